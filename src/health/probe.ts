import type { SecureContext } from 'node:tls';
import type { HealthCheck, HttpRequest } from '../model/types.js';
import { execProbe } from './probe-exec.js';
import { firstLine, socketProbe, unescapeSend, type TlsOptions } from './probe-socket.js';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

/** The CA contexts of the https checks, by CA file (caContexts() makes them once per file). */
export type CaContexts = ReadonlyMap<string, SecureContext>;

const NO_CAS: CaContexts = new Map();

// Runs one health check against one backend. Probes are the only part of nftlb besides apply that touches the network.
export function runProbe(
  check: HealthCheck,
  target: ProbeTarget,
  env: NodeJS.ProcessEnv = process.env,
  cas: CaContexts = NO_CAS,
): Promise<ProbeResult> {
  const at: ProbeTarget = {
    address: target.address,
    port: check.port ?? target.port,
    ...(target.via !== undefined ? { via: target.via } : {}),
  };
  switch (check.kind) {
    case 'tcp':
      return socketProbe(at, check.timeout, {
        send: check.send === undefined ? undefined : unescapeSend(check.send),
        judge: undefined,
      });
    case 'banner':
      return socketProbe(at, check.timeout, {
        send: check.send === undefined ? undefined : unescapeSend(check.send),
        judge: (reply, ended) => {
          // Decide on the first complete line (or whatever arrived before the peer closed).
          if (!reply.includes('\n') && !ended && reply.length < check.expect.length + 512) return undefined;
          const line = firstLine(reply);
          return line.startsWith(check.expect)
            ? { ok: true, reason: `banner ${JSON.stringify(line)}` }
            : { ok: false, reason: `banner ${JSON.stringify(line)}, expected "${check.expect}..."` };
        },
      });
    case 'http':
      return httpProbe(check, at, check.timeout, undefined);
    case 'https': {
      const secureContext = check.ca === undefined ? undefined : cas.get(check.ca);
      // caContexts() reads every CA file before the first round; a missing one here is a bug, and fails the check.
      if (check.ca !== undefined && secureContext === undefined)
        return Promise.resolve({ ok: false, reason: `CA file ${check.ca} was not loaded`, ms: 0 });
      return httpProbe(check, at, check.timeout, { servername: check.sni, secureContext, verify: check.verify });
    }
    case 'exec':
      return execProbe(check.command, at, check.timeout, env);
  }
}

// An HTTP/1.1 request (over TLS for https) and its status line. Host is the configured one or the probed address:port;
// `Connection: close` asks the server to end the exchange, and the check decides on the status line alone.
function httpProbe(
  check: HttpRequest,
  at: ProbeTarget,
  timeoutMs: number,
  secure: TlsOptions | undefined,
): Promise<ProbeResult> {
  const address = at.address.family === 6 ? `[${at.address.text}]` : at.address.text;
  const host = check.host ?? (at.port === undefined ? address : `${address}:${at.port}`);
  const request = `${check.method} ${check.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: nftlb-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
  return socketProbe(
    at,
    timeoutMs,
    {
      send: request,
      judge: (reply, ended) => {
        if (!reply.includes('\n') && !ended) return undefined;
        const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(reply);
        if (m === null) return { ok: false, reason: `not an HTTP reply: ${JSON.stringify(firstLine(reply))}` };
        const status = Number(m[1]);
        return check.status.includes(status)
          ? { ok: true, reason: `status ${status}` }
          : { ok: false, reason: `status ${status}, expected ${check.status.join('/')}` };
      },
    },
    secure,
  );
}
