import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { NftlbError } from '../common/errors.js';

/** An address to listen on: an IP address (IPv6 without brackets) and a port (0: any free one). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

// Parses `ADDRESS:PORT` (`127.0.0.1:9811`, `[::1]:9811`); undefined when it is not one. An address is required, so
// that exposing the metrics on every interface is a choice written out (`0.0.0.0:9811`, `[::]:9811`).
export function parseListen(text: string): ListenAddress | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const host = m[1]!;
  const port = Number(m[2]);
  if (isIP(host) === 0 || port > 65535) return undefined;
  return { host, port };
}

/** What a scrape answers: text, then (optionally) a file streamed after it. */
export interface Scrape {
  readonly text: string;
  /** A file whose content follows the text (the status part, written by a child `nftlb status -o FILE`). */
  readonly file?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** Where it listens, as `http://ADDRESS:PORT/metrics` (the real port when 0 was asked for). */
  readonly url: string;
  /** Requests waiting for a scrape now. */
  readonly waiting: number;
  /** Stops listening and ends open connections; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Content type of the Prometheus text exposition format. */
export const EXPOSITION_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// Serves GET /metrics on `listen`. Each request waits for one scrape; requests that arrive while a scrape is under way
// share it, so a slow host is never asked twice at once. Everything here is asynchronous: the caller's loop (health
// checks) runs on while a scrape or a response is in progress. A listen failure (address in use, not on this host,
// no permission) is a host-fault naming the address.
export async function serveMetrics(listen: ListenAddress, scrape: () => Promise<Scrape>): Promise<MetricsServer> {
  let current: Promise<Scrape> | undefined;
  let waiting = 0;
  const shared = async (): Promise<Scrape> => {
    current ??= scrape().finally(() => (current = undefined));
    waiting++;
    try {
      return await current;
    } finally {
      waiting--;
    }
  };
  const server = createServer((req, res) => void answer(req, res, shared));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new NftlbError('host-fault', `cannot serve metrics on ${shown(listen)}: ${e.code ?? e.message}`, {
          cause: e,
          detail:
            e.code === 'EADDRINUSE'
              ? 'Another program listens there: choose another port.'
              : e.code === 'EADDRNOTAVAIL'
                ? 'The address is not one of this host: give one of its addresses, or 127.0.0.1.'
                : undefined,
        }),
      ),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port;
  return {
    url: `http://${shown({ host: listen.host, port })}/metrics`,
    get waiting() {
      return waiting;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const shown = (l: ListenAddress): string => (l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

async function answer(req: IncomingMessage, res: ServerResponse, scrape: () => Promise<Scrape>): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('nftlb serves /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
    return;
  }
  let s: Scrape;
  try {
    s = await scrape();
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(e as Error).message}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': EXPOSITION_TYPE });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (s.file === undefined) {
    res.end(s.text);
    return;
  }
  res.write(s.text);
  const file = createReadStream(s.file);
  file.on('error', () => res.end());
  file.pipe(res);
}
