// Starts backend-server processes in the backend namespace, by default one process per backend
// address, so a test can take a single backend down while the others keep answering.
import { assertAllowed, hostPort } from './addresses.js';
import { spawnNode, type NsChild } from './child.js';
import type { Topology } from './topology.js';

// One listening socket of a backend; `banner` sends an SMTP-like greeting line before the identity.
export type Listener =
  { kind: 'tcp'; host: string; port: number; banner?: boolean } | { kind: 'udp'; host: string; port: number };

// One backend-server process and the listeners it serves.
export interface BackendProcess {
  key: string;
  listeners: Listener[];
  pid: number | undefined;
  stop(): Promise<void>;
}

// Handle on all started backend processes.
export interface Backends {
  processes: BackendProcess[];
  // Stops every process; also done automatically when the topology is torn down.
  stop(): Promise<void>;
  // Stops the process serving `hostOrHostPort` ("198.51.100.3" or "198.51.100.3:8080").
  stopOne(hostOrHostPort: string): Promise<void>;
}

// Options for startBackends; `group` decides how listeners are split into processes.
export interface StartOptions {
  group?: 'per-host' | 'per-listener' | 'single';
  banner?: string;
  maxSeconds?: number;
  readyTimeoutMs?: number;
}

// Convenience: the same TCP/UDP ports on every given backend address.
export function listenersFor(hosts: readonly string[], tcp: number[], udp: number[] = []): Listener[] {
  return hosts.flatMap((host) => [
    ...tcp.map((port): Listener => ({ kind: 'tcp', host, port })),
    ...udp.map((port): Listener => ({ kind: 'udp', host, port })),
  ]);
}

function groupKey(l: Listener, group: StartOptions['group']): string {
  if (group === 'single') return 'all';
  return group === 'per-listener' ? `${l.kind}:${hostPort(l.host, l.port)}` : l.host;
}

function flags(l: Listener): string[] {
  const hp = hostPort(l.host, l.port);
  if (l.kind === 'udp') return ['--udp', hp];
  return [l.banner ? '--banner-tcp' : '--tcp', hp];
}

async function startOne(
  topo: Topology,
  key: string,
  listeners: Listener[],
  opts: StartOptions,
): Promise<BackendProcess> {
  const args = listeners.flatMap(flags);
  if (opts.banner !== undefined) args.push('--banner', opts.banner);
  args.push('--max-seconds', String(opts.maxSeconds ?? 1800));
  const child: NsChild = spawnNode(topo, topo.backend, 'backend-server.js', args, `backend ${key}`);
  try {
    const line = await child.lines.next(opts.readyTimeoutMs ?? 10000);
    if (line !== 'READY') throw new Error(`unexpected line ${JSON.stringify(line)}`);
  } catch (e) {
    await child.stop();
    throw new Error(`backend ${key} did not start: ${(e as Error).message}\n${child.stderr()}`);
  }
  return { key, listeners, pid: child.pid, stop: child.stop };
}

// Spawns backend-server processes in topo.backend and resolves when all print READY.
export async function startBackends(topo: Topology, listeners: Listener[], opts: StartOptions = {}): Promise<Backends> {
  const groups = new Map<string, Listener[]>();
  for (const l of listeners) {
    assertAllowed(l.host);
    const key = groupKey(l, opts.group ?? 'per-host');
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  if (groups.size > 300) throw new Error('too many backend processes requested (max 300)');
  const settled = await Promise.allSettled([...groups].map(([key, ls]) => startOne(topo, key, ls, opts)));
  const processes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop()));
  };
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    processes,
    stop,
    stopOne: async (target) => {
      const matches = processes.filter((p) =>
        p.listeners.some((l) => l.host === target || hostPort(l.host, l.port) === target),
      );
      if (matches.length === 0) throw new Error(`no backend process serves ${target}`);
      await Promise.all(matches.map((p) => p.stop()));
    },
  };
}
