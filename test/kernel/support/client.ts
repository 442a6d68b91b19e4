// Traffic from the client namespace: batches of short connections (probe), counting where they
// landed (tally), and long-lived connections that can be pinged across ruleset reloads.
import { spawnNode, supportScript } from './child.js';
import type { Topology } from './topology.js';

// Outcome of one connection: which backend answered ("198.51.100.2:8080", "[2001:db8:2::2]:8080")
// and which address that backend saw as the peer; backend is null when the connection failed.
export interface ProbeResult {
  source: string | null;
  backend: string | null;
  peer: string | null;
  error?: string;
}

// What probe() sends; sources are used round robin (or in consecutive blocks with order 'blocks').
export interface ProbeOptions {
  target: string;
  port: number;
  proto: 'tcp' | 'udp';
  count: number;
  sources?: readonly string[];
  order?: 'round-robin' | 'blocks';
  timeoutMs?: number;
  maxSeconds?: number;
  /** Namespace the connections start from (default: the client); 'lb' tests clients on the balancer itself. */
  ns?: string;
}

// Next UDP source port per topology, so successive probe() runs never reuse a live conntrack flow.
const udpCursors = new WeakMap<Topology, number>();

// Runs `count` sequential connections from one namespace (the client by default) in one child process.
export async function probe(topo: Topology, { ns, ...opts }: ProbeOptions): Promise<ProbeResult[]> {
  if (opts.count > 20000) throw new Error('probe count is limited to 20000');
  const maxSeconds = Math.min(opts.maxSeconds ?? 120, 120);
  const r = await topo.exec(ns ?? topo.client, [process.execPath, supportScript('client-main.js'), 'probe'], {
    input: JSON.stringify({ ...opts, maxSeconds, udpFirstPort: udpCursors.get(topo) }),
    timeoutMs: (maxSeconds + 15) * 1000,
  });
  const parsed = JSON.parse(r.stdout) as { results: ProbeResult[]; nextUdpPort?: number };
  if (parsed.nextUdpPort !== undefined) udpCursors.set(topo, parsed.nextUdpPort);
  return parsed.results;
}

// Connections per backend; failures are counted under 'error'.
export function tally(results: readonly ProbeResult[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = r.backend ?? 'error';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

// tally() as a plain object with sorted keys, handy for t.deepEqual.
export function tallyObject(results: readonly ProbeResult[]): Record<string, number> {
  return Object.fromEntries([...tally(results)].sort(([a], [b]) => a.localeCompare(b)));
}

// Checks from namespace `ns` that every host answers TCP (connect or RST) within bounded retries.
export async function reach(topo: Topology, ns: string, hosts: readonly string[], port = 9): Promise<void> {
  const r = await topo.exec(ns, [process.execPath, supportScript('client-main.js'), 'reach'], {
    input: JSON.stringify({ targets: hosts.map((host) => ({ host, port })), attempts: 30, intervalMs: 100 }),
    timeoutMs: 60000,
  });
  const bad = (JSON.parse(r.stdout) as { results: ProbeResult[] }).results.filter((x) => x.error);
  if (bad.length > 0) {
    throw new Error(`from ${ns}: ${bad.map((b) => `${b.backend ?? '?'} ${b.error ?? ''}`).join('; ')}`);
  }
}

// A TCP connection kept open in the client namespace.
export interface LongLived {
  backend: string;
  peer: string;
  source: string | null;
  // Sends a line over the connection and resolves with the identity of the backend that echoed it.
  ping(): Promise<string>;
  close(): Promise<void>;
}

// What openLongLived() connects to.
export interface LongLivedOptions {
  target: string;
  port: number;
  source?: string;
  timeoutMs?: number;
  maxSeconds?: number;
}

interface HoldEvent {
  kind: 'connected' | 'reply' | 'closed' | 'error';
  backend?: string;
  peer?: string;
  source?: string | null;
  text?: string;
  error?: string;
  reason?: string;
}

// Opens one TCP connection from the client namespace and keeps it until close() or teardown.
export async function openLongLived(topo: Topology, opts: LongLivedOptions): Promise<LongLived> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const spec = JSON.stringify({ ...opts, timeoutMs, maxSeconds: opts.maxSeconds ?? 600 });
  const child = spawnNode(topo, topo.client, 'client-main.js', ['hold', spec], `long-lived ${opts.target}`);
  const next = async (): Promise<HoldEvent> => JSON.parse(await child.lines.next(timeoutMs + 2000)) as HoldEvent;
  let first: HoldEvent;
  try {
    first = await next();
  } catch (e) {
    await child.stop();
    throw new Error(`long-lived connection failed: ${(e as Error).message}\n${child.stderr()}`);
  }
  if (first.kind !== 'connected' || first.backend === undefined) {
    await child.stop();
    throw new Error(`long-lived connection failed: ${JSON.stringify(first)}`);
  }
  let seq = 0;
  return {
    backend: first.backend,
    peer: first.peer ?? '',
    source: first.source ?? null,
    async ping() {
      const text = `ping-${++seq}`;
      child.write(text);
      const ev = await next();
      if (ev.kind !== 'reply' || ev.backend === undefined) throw new Error(`ping failed: ${JSON.stringify(ev)}`);
      if (ev.text !== text) throw new Error(`ping got ${JSON.stringify(ev.text)} instead of ${text}`);
      return ev.backend;
    },
    close: child.stop,
  };
}
