// Client program of the cluster tests, run in a namespace (`ip netns exec NS node udp-flows.js`): sends one UDP
// datagram from each given source address and port to the target and reads the answer (a backend server's identity
// line), one flow after another. The sources need not be addresses of the namespace: the test sets ip_nonlocal_bind
// and a local route for their range. JSON spec on stdin, {"results": [...]} on stdout.
//   {"target": "203.0.113.100", "port": 53, "flows": [["198.18.0.1", 40000], ...], "timeoutMs": 2000}
import * as dgram from 'node:dgram';
import * as net from 'node:net';

// Hard bounds so that no caller can make this program run away.
const MAX_FLOWS = 5000;
const MAX_TIMEOUT_MS = 5000;
const MAX_SECONDS = 120;

interface Spec {
  target: string;
  port: number;
  flows: [string, number][];
  timeoutMs?: number;
}

interface Result {
  source: string;
  sport: number;
  backend: string | null;
  error?: string;
}

function once(target: string, port: number, source: string, sport: number, timeoutMs: number): Promise<Result> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(target) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r: Omit<Result, 'source' | 'sport'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve({ source, sport, ...r });
    };
    const timer = setTimeout(() => finish({ backend: null, error: 'timeout' }), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ backend: null, error: e.code ?? e.message }));
    sock.on('message', (msg) => {
      const m = /^(\S+) (\S+)/.exec(msg.toString('utf8'));
      finish(m === null ? { backend: null, error: `reply ${JSON.stringify(msg.toString())}` } : { backend: m[1]! });
    });
    sock.bind({ address: source, port: sport }, () => sock.send('which', port, target));
  });
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const spec = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Spec;
  if (spec.flows.length > MAX_FLOWS) throw new Error(`at most ${MAX_FLOWS} flows`);
  const timeoutMs = Math.min(Math.max(spec.timeoutMs ?? 2000, 10), MAX_TIMEOUT_MS);
  const deadline = Date.now() + MAX_SECONDS * 1000;
  const results: Result[] = [];
  for (const [source, sport] of spec.flows) {
    if (Date.now() > deadline) break;
    results.push(await once(spec.target, spec.port, source, sport, timeoutMs));
  }
  process.stdout.write(`${JSON.stringify({ results })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`udp-flows: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
