// Load program of the DSR datapath benchmark, run inside a namespace (`ip netns exec NS node dsr-load.js MODE ...`).
//   serve HOST:PORT... --bulk PORT   every listener answers "ok\n" on connect; on the bulk port it sends until the
//                                    client goes (64 KiB writes). Prints READY; exits on stdin EOF, SIGTERM or 15 min.
//   conns JSON                       {target, port, sources, concurrency, seconds, max}: new connections (connect, read
//                                    the line, reset), prints {connections, failed, ms}.
//   bulk JSON                        {target, port, sources, concurrency, seconds}: parallel downloads for `seconds`,
//                                    prints {bytes, ms}.
// Every loop is bounded by a count and by time.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

const MAX_SECONDS = 30;
const MAX_CONNECTIONS = 500_000;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (m === null) throw new Error(`bad host:port ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}

function serve(args: string[]): void {
  const bulk = new Set<number>();
  const listens: { host: string; port: number }[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--bulk') bulk.add(Number(args[++i]));
    else listens.push(hostPort(args[i]!));
  }
  let ready = 0;
  for (const l of listens) {
    const server = net.createServer((sock) => {
      sock.on('error', () => sock.destroy());
      if (!bulk.has(l.port)) {
        sock.end('ok\n');
        return;
      }
      // Write as fast as the connection takes it, until the client resets.
      const pump = (): void => {
        while (!sock.destroyed && sock.write(CHUNK));
      };
      sock.on('drain', pump);
      pump();
    });
    server.listen({ host: l.host, port: l.port, backlog: 4096, ipv6Only: l.host.includes(':') }, () => {
      if (++ready === listens.length) process.stdout.write('READY\n');
    });
  }
  setTimeout(() => process.exit(0), 15 * 60_000).unref();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  process.once('SIGTERM', () => process.exit(0));
}

interface Spec {
  target: string;
  port: number;
  sources: string[];
  concurrency: number;
  seconds: number;
  max?: number;
}

// One connection: connect from `source`, wait for the first bytes, reset (no TIME_WAIT on either side).
function once(s: Spec, source: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: s.target, port: s.port, localAddress: source });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      if (ok) sock.resetAndDestroy();
      else sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 2000);
    sock.once('data', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function conns(s: Spec): Promise<{ connections: number; failed: number; ms: number }> {
  const max = Math.min(s.max ?? MAX_CONNECTIONS, MAX_CONNECTIONS);
  const end = performance.now() + Math.min(s.seconds, MAX_SECONDS) * 1000;
  let started = 0;
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async (w: number): Promise<void> => {
    for (let i = w; performance.now() < end && started < max; i += s.concurrency) {
      started++;
      if (await once(s, s.sources[i % s.sources.length]!)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(s.concurrency, 256) }, (_, w) => worker(w)));
  return { connections: ok, failed, ms: performance.now() - t0 };
}

async function bulk(s: Spec): Promise<{ bytes: number; ms: number }> {
  const seconds = Math.min(s.seconds, MAX_SECONDS);
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: Math.min(s.concurrency, 64) },
      (_, w) =>
        new Promise<void>((resolve) => {
          const sock = net.connect({ host: s.target, port: s.port, localAddress: s.sources[w % s.sources.length] });
          sock.on('data', (d: Buffer) => (bytes += d.length));
          const stop = (): void => {
            sock.resetAndDestroy();
            resolve();
          };
          setTimeout(stop, seconds * 1000);
          sock.on('error', () => resolve());
        }),
    ),
  );
  return { bytes, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'serve') return serve(rest);
  const spec = JSON.parse(rest[0] ?? '{}') as Spec;
  const out = mode === 'conns' ? await conns(spec) : mode === 'bulk' ? await bulk(spec) : null;
  if (out === null) throw new Error(`unknown mode ${mode ?? ''}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`dsr-load: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
