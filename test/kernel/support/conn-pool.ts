// Client program of the cluster tests: keeps many TCP connections open from given source addresses and ports, and on
// command checks each of them or opens fresh ones. Run in a namespace: `node conn-pool.js SPEC_JSON`; commands on stdin,
// one JSON line per answer on stdout:
//   spec   {"target": "203.0.113.1", "port": 80, "conns": [["198.18.0.2", 20000], ...], "timeoutMs": 5000}
//   open   -> {"kind": "open", "results": [{"i", "backend" | null, "error"?}]}  (every connection, in order)
//   ping   -> {"kind": "ping", "results": [...]}   a line over each open connection, echoed by its backend
//   burst SOURCE N FIRSTPORT -> {"kind": "burst", "results": [...]}  N new connections, closed at once
//   exit
// The backend servers answer a connection with "<identity> <peer>" and echo each line after that prefix.
import * as net from 'node:net';
import * as readline from 'node:readline';

const MAX_CONNS = 2000;
const MAX_SECONDS = 1800;
const MAX_TIMEOUT_MS = 30000;

interface Spec {
  target: string;
  port: number;
  conns: [string, number][];
  timeoutMs?: number;
}

interface Result {
  i: number;
  backend: string | null;
  error?: string;
}

/** One open connection and the lines it has received but nobody has read yet. */
interface Conn {
  sock: net.Socket;
  lines: string[];
  waiter: ((line: string | null) => void) | undefined;
  closed: boolean;
}

const identity = (line: string): string | null => /^(\S+) \S+/.exec(line)?.[1] ?? null;

function connect(
  target: string,
  port: number,
  source: string,
  sport: number,
  timeoutMs: number,
): Promise<Conn | string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: target, port, localAddress: source, localPort: sport });
    const c: Conn = { sock, lines: [], waiter: undefined, closed: false };
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('timeout');
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.setNoDelay(true);
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = c.waiter;
        c.waiter = undefined;
        if (w !== undefined) w(line);
        else c.lines.push(line);
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
    sock.on('close', () => {
      c.closed = true;
      c.waiter?.(null);
      c.waiter = undefined;
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(c);
    });
  });
}

// The next line of a connection, or null when it closed or timeoutMs passed.
function nextLine(c: Conn, timeoutMs: number): Promise<string | null> {
  const l = c.lines.shift();
  if (l !== undefined) return Promise.resolve(l);
  if (c.closed) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.waiter = undefined;
      resolve(null);
    }, timeoutMs);
    c.waiter = (line) => {
      clearTimeout(timer);
      resolve(line);
    };
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
  if (spec.conns.length > MAX_CONNS) throw new Error(`at most ${MAX_CONNS} connections`);
  const timeoutMs = Math.min(Math.max(spec.timeoutMs ?? 5000, 100), MAX_TIMEOUT_MS);
  setTimeout(() => process.exit(0), MAX_SECONDS * 1000).unref();
  const conns: (Conn | null)[] = [];
  const out = (kind: string, results: Result[]): void => {
    process.stdout.write(`${JSON.stringify({ kind, results })}\n`);
  };
  let seq = 0;
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('close', () => process.exit(0));
  for await (const line of rl) {
    const [cmd, ...args] = line.trim().split(' ');
    if (cmd === 'open') {
      const results: Result[] = [];
      for (const [i, [source, sport]] of spec.conns.entries()) {
        const c = await connect(spec.target, spec.port, source, sport, timeoutMs);
        if (typeof c === 'string') {
          conns.push(null);
          results.push({ i, backend: null, error: c });
          continue;
        }
        conns.push(c);
        const first = await nextLine(c, timeoutMs);
        results.push(first === null ? { i, backend: null, error: 'no identity' } : { i, backend: identity(first) });
      }
      out('open', results);
    } else if (cmd === 'ping') {
      seq++;
      // Every connection at once: a connection whose packets are being retransmitted does not hold up the others.
      const results = await Promise.all(
        conns.map(async (c, i): Promise<Result> => {
          if (c === null) return { i, backend: null, error: 'never opened' };
          if (c.closed) return { i, backend: null, error: 'closed' };
          c.sock.write(`ping-${seq}\n`);
          const l = await nextLine(c, timeoutMs);
          if (l === null) return { i, backend: null, error: c.closed ? 'closed' : 'timeout' };
          return l.endsWith(` ping-${seq}`) ? { i, backend: identity(l) } : { i, backend: null, error: `got ${l}` };
        }),
      );
      out('ping', results);
    } else if (cmd === 'burst') {
      const [source, n, first] = [args[0] ?? '', Number(args[1]), Number(args[2])];
      const results = await Promise.all(
        Array.from({ length: Math.min(n, 100) }, async (_, i): Promise<Result> => {
          const c = await connect(spec.target, spec.port, source, first + i, Math.min(timeoutMs, 1000));
          if (typeof c === 'string') return { i, backend: null, error: c };
          const l = await nextLine(c, 1000);
          c.sock.resetAndDestroy();
          return l === null ? { i, backend: null, error: 'no identity' } : { i, backend: identity(l) };
        }),
      );
      out('burst', results);
    } else if (cmd === 'exit') {
      process.exit(0);
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`conn-pool: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
