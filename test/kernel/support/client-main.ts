// Client program run inside the client namespace (`ip netns exec <ns> node client-main.js MODE`).
//   probe: JSON spec on stdin; opens connections one after another; prints {"results":[...]}.
//   reach: JSON spec on stdin; checks that TCP targets answer (connect or RST); prints {"results":[...]}.
//   hold:  JSON spec in argv[3]; keeps one TCP connection, forwards stdin lines, prints JSON lines.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as readline from 'node:readline';

// Hard bounds so that no caller can make this program run away.
const MAX_COUNT = 20000;
const MAX_SECONDS = 120;
const MAX_TIMEOUT_MS = 10000;
const MAX_HOLD_SECONDS = 3600;

interface Result {
  source: string | null;
  backend: string | null;
  peer: string | null;
  error?: string;
}

interface ProbeSpec {
  target: string;
  port: number;
  proto: 'tcp' | 'udp';
  count: number;
  sources?: string[];
  order?: 'round-robin' | 'blocks';
  timeoutMs?: number;
  maxSeconds?: number;
  udpFirstPort?: number;
}

// UDP source ports are handed out sequentially instead of bind(0): the kernel picks random ports,
// and a port reused while the old conntrack entry lives (30 s+) joins that flow instead of being
// balanced again (seen: 575 of 6000 queries). The caller carries the cursor across probe runs.
const UDP_PORTS = { first: 10000, last: 60999 };
let udpCursor = UDP_PORTS.first;

function nextUdpPort(): number {
  const port = udpCursor;
  udpCursor = udpCursor >= UDP_PORTS.last ? UDP_PORTS.first : udpCursor + 1;
  return port;
}

// A backend line is "<identity> <peer>[ <echoed text>]"; banners and other lines do not match.
function parseIdentity(line: string): { backend: string; peer: string; text: string } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]:\d+|[0-9.]+:\d+) (\S+)(?: (.*))?$/.exec(line.trimEnd());
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  return { backend: m[1], peer: m[2], text: m[3] ?? '' };
}

function errorCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message ?? String(e);
}

function clampTimeout(ms: number | undefined, dflt: number): number {
  return Math.min(Math.max(ms ?? dflt, 10), MAX_TIMEOUT_MS);
}

function tcpOnce(target: string, port: number, source: string | undefined, timeoutMs: number): Promise<Result> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: target, port, ...(source ? { localAddress: source } : {}) });
    let buf = '';
    let lines = 0;
    let done = false;
    const finish = (r: Omit<Result, 'source'>, connected: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ source: sock.localAddress ?? source ?? null, ...r });
      // RST instead of FIN: no TIME_WAIT, so thousands of sequential probes never run out of ports.
      if (connected) sock.resetAndDestroy();
      else sock.destroy();
    };
    const timer = setTimeout(() => finish({ backend: null, peer: null, error: 'timeout' }, false), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0 && !done; nl = buf.indexOf('\n')) {
        const id = parseIdentity(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (id) finish({ backend: id.backend, peer: id.peer }, true);
        // A banner line comes before the identity; give up after a few unknown lines.
        else if (++lines >= 3) finish({ backend: null, peer: null, error: 'no identity line' }, true);
      }
    });
    sock.on('error', (e) => finish({ backend: null, peer: null, error: errorCode(e) }, false));
    sock.on('close', () => finish({ backend: null, peer: null, error: 'closed before identity line' }, false));
  });
}

// A new socket per query: a fresh source port makes every query its own conntrack flow.
function udpOnce(target: string, port: number, source: string | undefined, timeoutMs: number): Promise<Result> {
  const localPort = nextUdpPort();
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(target) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r: Omit<Result, 'source'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      let local: string | null = source ?? null;
      try {
        local = sock.address().address;
      } catch {
        // not bound
      }
      sock.close();
      resolve({ source: local, ...r });
    };
    const timer = setTimeout(() => finish({ backend: null, peer: null, error: 'timeout' }), timeoutMs);
    sock.on('error', (e) => finish({ backend: null, peer: null, error: errorCode(e) }));
    sock.on('message', (msg) => {
      const id = parseIdentity(msg.toString('utf8'));
      if (id) finish({ backend: id.backend, peer: id.peer });
      else finish({ backend: null, peer: null, error: 'no identity in reply' });
    });
    sock.bind({ port: localPort, ...(source ? { address: source } : {}) }, () => {
      // connect() makes the kernel drop datagrams from anyone but the VIP.
      sock.connect(port, target, () => {
        if (!done) sock.send('probe\n');
      });
    });
  });
}

async function probe(spec: ProbeSpec): Promise<Result[]> {
  const first = Math.trunc(spec.udpFirstPort ?? UDP_PORTS.first);
  udpCursor = first >= UDP_PORTS.first && first <= UDP_PORTS.last ? first : UDP_PORTS.first;
  const count = Math.min(Math.max(Math.trunc(spec.count), 0), MAX_COUNT);
  // A connection expected to succeed gets time for two SYN retransmits (1 s, 3 s) on a loaded machine; tests that
  // expect a drop pass their own shorter timeout.
  const timeoutMs = clampTimeout(spec.timeoutMs, 5000);
  const deadline = Date.now() + Math.min(spec.maxSeconds ?? MAX_SECONDS, MAX_SECONDS) * 1000;
  const sources = spec.sources && spec.sources.length > 0 ? spec.sources : [undefined];
  const block = Math.max(1, Math.ceil(count / sources.length));
  const once = spec.proto === 'udp' ? udpOnce : tcpOnce;
  const results: Result[] = [];
  for (let i = 0; i < count; i++) {
    const idx = spec.order === 'blocks' ? Math.floor(i / block) : i % sources.length;
    const source = sources[Math.min(idx, sources.length - 1)];
    if (Date.now() > deadline) {
      results.push({ source: source ?? null, backend: null, peer: null, error: 'deadline' });
      continue;
    }
    let r = await once(spec.target, spec.port, source, timeoutMs);
    // A port held by another socket in the namespace: move on to the next one (bounded).
    for (let retry = 0; retry < 20 && spec.proto === 'udp' && r.error === 'EADDRINUSE'; retry++) {
      r = await once(spec.target, spec.port, source, timeoutMs);
    }
    results.push(r);
  }
  return results;
}

interface ReachSpec {
  targets: { host: string; port: number }[];
  attempts?: number;
  intervalMs?: number;
}

// Connected or refused both prove that packets go there and back.
async function reachOne(host: string, port: number, attempts: number, intervalMs: number): Promise<Result> {
  let last = '';
  for (let i = 0; i < attempts; i++) {
    const r = await tcpOnce(host, port, undefined, 1000);
    if (r.backend !== null || r.error === 'ECONNREFUSED' || r.error === 'closed before identity line') {
      return { source: r.source, backend: host, peer: null };
    }
    last = r.error ?? 'unknown';
    await new Promise((res) => setTimeout(res, intervalMs));
  }
  return { source: null, backend: host, peer: null, error: `unreachable after ${attempts} attempts: ${last}` };
}

async function reach(spec: ReachSpec): Promise<Result[]> {
  const attempts = Math.min(spec.attempts ?? 30, 100);
  const intervalMs = Math.min(spec.intervalMs ?? 100, 1000);
  return Promise.all(spec.targets.slice(0, 64).map((t) => reachOne(t.host, t.port, attempts, intervalMs)));
}

interface HoldSpec {
  target: string;
  port: number;
  source?: string;
  timeoutMs?: number;
  maxSeconds?: number;
}

function hold(spec: HoldSpec): void {
  const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  const maxMs = Math.min(spec.maxSeconds ?? 1800, MAX_HOLD_SECONDS) * 1000;
  const stop = (code: number): never => process.exit(code);
  setTimeout(() => {
    say({ kind: 'closed', reason: 'max-seconds' });
    stop(0);
  }, maxMs).unref();
  const connectTimer = setTimeout(
    () => {
      say({ kind: 'error', error: 'timeout' });
      stop(1);
    },
    clampTimeout(spec.timeoutMs, 5000),
  );
  const sock = net.connect({
    host: spec.target,
    port: spec.port,
    ...(spec.source ? { localAddress: spec.source } : {}),
  });
  sock.setEncoding('utf8');
  let connected = false;
  const lines = readline.createInterface({ input: sock });
  lines.on('error', () => undefined); // reported by the socket's own error handler below
  lines.on('line', (line) => {
    const id = parseIdentity(line);
    if (!id) return; // banner
    if (!connected) {
      connected = true;
      clearTimeout(connectTimer);
      say({ kind: 'connected', backend: id.backend, peer: id.peer, source: sock.localAddress ?? null });
      readline.createInterface({ input: process.stdin }).on('line', (l) => sock.write(`${l}\n`));
      process.stdin.on('end', () => {
        sock.end();
        stop(0);
      });
    } else {
      say({ kind: 'reply', backend: id.backend, peer: id.peer, text: id.text });
    }
  });
  sock.on('error', (e) => {
    say({ kind: 'error', error: errorCode(e) });
    stop(1);
  });
  sock.on('close', () => {
    say({ kind: 'closed', reason: 'peer' });
    stop(0);
  });
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === 'hold') return hold(JSON.parse(process.argv[3] ?? '{}') as HoldSpec);
  const spec: unknown = JSON.parse(await readStdin());
  const results =
    mode === 'probe' ? await probe(spec as ProbeSpec) : mode === 'reach' ? await reach(spec as ReachSpec) : null;
  if (results === null) throw new Error(`unknown mode ${mode ?? ''}`);
  process.stdout.write(`${JSON.stringify({ results, nextUdpPort: udpCursor })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`client-main: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
