// Helpers of the persistence kernel tests: where each client's connections landed, and the entries in the live maps.
import { probe, type ProbeResult } from './client.js';
import type { Topology } from './topology.js';

/** Backends each client (source address) reached, in the order first seen; failures as `error:<code>`. */
export type Landing = Map<string, string[]>;

// Opens `rounds` connections from every source (round robin over the sources, so each client's connections are
// interleaved with the others': a round robin scheduler would move each client every time) and records where each
// client landed.
export async function landing(
  topo: Topology,
  o: { target: string; port: number; proto?: 'tcp' | 'udp'; sources: readonly string[]; rounds: number },
): Promise<Landing> {
  const results = await probe(topo, {
    target: o.target,
    port: o.port,
    proto: o.proto ?? 'tcp',
    count: o.sources.length * o.rounds,
    sources: o.sources,
  });
  return landingOf(results);
}

// Groups probe results by source address.
export function landingOf(results: readonly ProbeResult[]): Landing {
  const out: Landing = new Map();
  for (const r of results) {
    const key = r.source ?? '?';
    const seen = out.get(key) ?? [];
    const at = r.backend ?? `error:${r.error ?? '?'}`;
    if (!seen.includes(at)) seen.push(at);
    out.set(key, seen);
  }
  return out;
}

// The one backend of each client, or throws naming the clients that reached several (or failed).
export function sticky(l: Landing): Map<string, string> {
  const moved = [...l].filter(([, bs]) => bs.length !== 1 || bs[0]!.startsWith('error:'));
  if (moved.length > 0)
    throw new Error(`clients not on one backend: ${moved.map(([c, bs]) => `${c} -> ${bs.join(',')}`).join('; ')}`);
  return new Map([...l].map(([c, bs]) => [c, bs[0]!]));
}

/** One entry of a persistence map as `nft -j list map` shows it. */
export interface LiveEntry {
  /** The key's parts after the service mark: client (prefix) and, for persist4_daddr, the VIP. */
  readonly key: readonly (string | number)[];
  readonly value: number;
  readonly expires: number | undefined;
}

// The entries of one persistence map of the lb namespace (empty when the map or the table is missing).
export async function liveEntries(topo: Topology, map: string, table = 'nftlb'): Promise<LiveEntry[]> {
  const r = await topo.exec(topo.lb, ['nft', '-j', 'list', 'map', 'inet', table, map], { reject: false });
  if (r.exitCode !== 0) return [];
  const doc = JSON.parse(r.stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
  const elems = doc.nftables.find((x) => x.map !== undefined)?.map?.elem ?? [];
  return elems.map((e) => {
    const [k, v] = e as [unknown, unknown];
    const elem = (k as { elem?: { val: unknown; expires?: number } }).elem;
    const val = elem?.val ?? k;
    const parts = ((val as { concat?: unknown[] }).concat ?? [val]).slice(1) as (string | number)[];
    return { key: parts, value: Number(v), expires: elem?.expires };
  });
}

// Waits (bounded by count, not by the machine's speed) until `pred` holds for the entries of `map`.
export async function waitForEntries(
  topo: Topology,
  map: string,
  pred: (es: readonly LiveEntry[]) => boolean,
  o: { intervalMs: number; tries: number },
): Promise<LiveEntry[]> {
  let last: LiveEntry[] = [];
  for (let i = 0; i < o.tries; i++) {
    last = await liveEntries(topo, map);
    if (pred(last)) return last;
    await new Promise((res) => setTimeout(res, o.intervalMs));
  }
  throw new Error(`entries of ${map} never matched after ${o.tries} tries: ${JSON.stringify(last)}`);
}

// IPv6 client addresses in distinct /96s (an IPv6 entry is keyed by at most the first 96 bits of the address): the
// topology's clients differ only in their last bits. Adds them to the client namespace's interface.
export async function clientsV6Apart(topo: Topology, count: number): Promise<string[]> {
  const out = Array.from({ length: count }, (_, i) => `2001:db8:1:0:${(i + 1).toString(16)}::10`);
  await topo.exec(topo.client, ['ip', '-b', '-'], {
    input: out.map((a) => `addr add ${a}/64 dev veth0 nodad\n`).join(''),
  });
  return out;
}
