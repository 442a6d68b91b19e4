import { followConntrackEvents, listConntrackLines, parseConntrackLine } from '../system/conntrack.js';
import type { LineStream } from '../system/executor.js';
import type { Host } from '../system/host.js';
import { NftlbError } from '../common/errors.js';
import type { Model } from '../model/types.js';
import { backendKey } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { FlowIndex, isBackendMark, serviceFlows, type BackendFlows, type FlowFields } from '../plan/flows.js';

// limit-overflow spill. The kernel cannot test a backend's connection count without counting the tested connection
// against it (nft `ct count` adds it to the list it counts), so nftlb counts in user space: conntrack reports each
// connection's birth, state changes and death, and its VIP and reply source tell its backend (src/plan/flows.ts; not
// its ct mark, the id its backend had when it opened, which names another backend after a reload that moved ids). A
// backend that reaches its max-connections is taken out of selection like a drained one (its connections stay) and
// comes back once it is down to 3/4 of the limit (the rule IPVS applies to its upper threshold), so a backend at the
// limit does not flap the table on every connection. The kernel's `ct count` reject stays as the hard cap for the
// connections that arrive before the table update lands.

/** One backend whose connections are counted: a backend with max-connections in a service with limit-overflow spill. */
export interface SpillTarget {
  /** Backend key (service/endpoint), as in the health state. */
  readonly key: string;
  /** Backend id in the plan counted for. */
  readonly id: number;
  /** What conntrack records of its connections. */
  readonly flows: BackendFlows;
  readonly max: number;
}

// The backends to count, by id. Backends set down by the config take no connections and are left out.
export function spillTargets(model: Model, p: Plan): Map<number, SpillTarget> {
  const out = new Map<number, SpillTarget>();
  model.services.forEach((s, i) => {
    if (s.limits.overflow !== 'spill') return;
    const ps = p.services[i]!;
    const flows = serviceFlows(ps);
    s.backends.forEach((b, j) => {
      const pb = ps.backends[j]!;
      if (b.maxConnections === undefined || b.state === 'down') return;
      out.set(pb.id, { key: backendKey(s.name, pb.endpoint), id: pb.id, flows: flows[j]!, max: b.maxConnections });
    });
  });
  return out;
}

/** The count at or below which a full backend takes new connections again. */
export const returnAt = (max: number): number => Math.floor((3 * max) / 4);

/** One conntrack line (`conntrack -L -o id` or `conntrack -E -o id`), reduced to what counting needs. */
export interface CountLine extends FlowFields {
  /** NEW, UPDATE or DESTROY for an event; undefined for a listing line. */
  readonly event: string | undefined;
  readonly id: string;
  /** False once the connection no longer counts: destroyed, or TCP in TIME_WAIT or CLOSE (as nft's ct count). */
  readonly open: boolean;
}

// A conntrack line (parseConntrackLine) as counting sees it. null for lines that are no entry, and for entries without
// an id or whose mark is no backend id (a balanced connection's is one, if maybe not its backend's now).
export function parseCountLine(line: string): CountLine | null {
  const l = parseConntrackLine(line);
  if (l === null || l.id === undefined || !isBackendMark(l.mark) || l.replySrc === undefined) return null;
  const open = l.event !== 'DESTROY' && l.state !== 'TIME_WAIT' && l.state !== 'CLOSE';
  return {
    event: l.event,
    id: l.id,
    open,
    proto: l.proto,
    dst: l.dst,
    dport: l.dport,
    replySrc: l.replySrc,
    replySport: l.replySport,
  };
}

/** A flip of one backend between full and not full. */
export interface FullChange {
  readonly key: string;
  readonly full: boolean;
  readonly count: number;
  readonly max: number;
}

// Connection counts of the spill backends, fed with conntrack lines. A line counts for a backend when it was
// addressed to one of the service's VIPs, protocols and ports and its reply comes from the backend's address (and
// port).
export class ConnectionCounts {
  private readonly conns = new Map<string, number>();
  private readonly counts = new Map<number, number>();
  private readonly fullIds = new Set<number>();
  private readonly index = new FlowIndex<SpillTarget>();

  constructor(
    private readonly targets: ReadonlyMap<number, SpillTarget>,
    full: Iterable<string> = [],
  ) {
    const wasFull = new Set(full);
    for (const t of targets.values()) {
      this.counts.set(t.id, 0);
      this.index.add(t.flows, t);
      if (wasFull.has(t.key)) this.fullIds.add(t.id);
    }
  }

  /** Folds one line in; returns the flip it caused, if any. */
  feed(line: CountLine): FullChange | undefined {
    const t = this.index.find(line);
    const had = this.conns.get(line.id);
    if (t === undefined) return had === undefined ? undefined : this.forget(line.id, had);
    if (line.open) {
      if (had === t.id) return undefined;
      const gone = had === undefined ? undefined : this.forget(line.id, had);
      this.conns.set(line.id, t.id);
      return this.bump(t, 1) ?? gone;
    }
    return had === undefined ? undefined : this.forget(line.id, had);
  }

  /** Replaces every count with a listing's (`conntrack -L -o id`), keeping the connections in `keep` as they are:
   *  their events arrived while the listing was read, so they are newer than it. Returns the flips. */
  reset(listing: readonly CountLine[], keep: ReadonlySet<string> = new Set()): FullChange[] {
    const kept = [...this.conns].filter(([conn]) => keep.has(conn));
    this.conns.clear();
    for (const id of this.counts.keys()) this.counts.set(id, 0);
    const add = (conn: string, id: number): void => {
      this.conns.set(conn, id);
      this.counts.set(id, this.count(id) + 1);
    };
    for (const [conn, id] of kept) add(conn, id);
    for (const l of listing) {
      if (keep.has(l.id) || !l.open || this.conns.has(l.id)) continue;
      const t = this.index.find(l);
      if (t !== undefined) add(l.id, t.id);
    }
    const changes: FullChange[] = [];
    for (const t of this.targets.values()) {
      const c = this.settle(t);
      if (c !== undefined) changes.push(c);
    }
    return changes;
  }

  count(id: number): number {
    return this.counts.get(id) ?? 0;
  }

  isFull(id: number): boolean {
    return this.fullIds.has(id);
  }

  /** Keys of the backends that are full now. */
  fullKeys(): string[] {
    return [...this.fullIds].map((id) => this.targets.get(id)!.key);
  }

  private forget(conn: string, id: number): FullChange | undefined {
    this.conns.delete(conn);
    const t = this.targets.get(id);
    return t === undefined ? undefined : this.bump(t, -1);
  }

  private bump(t: SpillTarget, by: number): FullChange | undefined {
    this.counts.set(t.id, Math.max(0, (this.counts.get(t.id) ?? 0) + by));
    return this.settle(t);
  }

  // Applies the thresholds: full at max, back at returnAt(max).
  private settle(t: SpillTarget): FullChange | undefined {
    const n = this.count(t.id);
    if (!this.fullIds.has(t.id) && n >= t.max) {
      this.fullIds.add(t.id);
      return { key: t.key, full: true, count: n, max: t.max };
    }
    if (this.fullIds.has(t.id) && n <= returnAt(t.max)) {
      this.fullIds.delete(t.id);
      return { key: t.key, full: false, count: n, max: t.max };
    }
    return undefined;
  }
}

// Lists the connection tracking table once (both families) as counting lines.
export async function listConnections(host: Host): Promise<CountLine[]> {
  const out: CountLine[] = [];
  for (const line of await listConntrackLines(host, 'limit-overflow spill counts connections with it')) {
    const l = parseCountLine(line);
    if (l !== null) out.push(l);
  }
  return out;
}

/** A running connection counter (health --watch). */
export interface ConnectionWatch {
  readonly counts: ConnectionCounts;
  /** Stops the conntrack event process. */
  stop(): Promise<void>;
}

// Follows conntrack events (`conntrack -E -o id`) for the spill targets, after one listing for the connections that
// exist already; onChange gets every flip. When the kernel drops events (conntrack warns of ENOBUFS) the counts are
// rebuilt from a new listing. onError gets failures of the event process (it is restarted after a pause) and of a
// listing.
export async function watchConnections(
  host: Host,
  targets: ReadonlyMap<number, SpillTarget>,
  full: Iterable<string>,
  onChange: (changes: readonly FullChange[]) => void,
  onError: (e: unknown) => void,
): Promise<ConnectionWatch> {
  const counts = new ConnectionCounts(targets, full);
  let stopped = false;
  let stream: LineStream | undefined;
  // Connections with an event since the listing in progress began (undefined: no listing in progress).
  let during: Set<string> | undefined;
  // One listing at a time; a request during one (events lost meanwhile) runs another right after it.
  let listing: Promise<void> | undefined;
  let again = false;
  const listOnce = async (): Promise<void> => {
    during = new Set();
    try {
      const changes = counts.reset(await listConnections(host), during);
      if (changes.length > 0) onChange(changes);
    } catch (e) {
      onError(e);
    } finally {
      during = undefined;
    }
  };
  const relist = (): Promise<void> => {
    if (listing !== undefined) {
      again = true;
      return listing;
    }
    listing = (async () => {
      do {
        again = false;
        await listOnce();
      } while (again && !stopped);
      listing = undefined;
    })();
    return listing;
  };
  const start = async (): Promise<void> => {
    stream = await followConntrackEvents(host, (line, from) => {
      if (from === 'stderr') {
        if (line.includes('ENOBUFS')) void relist();
        return;
      }
      const l = parseCountLine(line);
      if (l === null) return;
      during?.add(l.id);
      const c = counts.feed(l);
      if (c !== undefined) onChange([c]);
    });
    void stream.exited.then((r) => {
      if (stopped) return;
      onError(
        new NftlbError('host-fault', `${host.conntrack} -E exited (${r.exitCode}): ${r.stderr.trim()}; restarting it`),
      );
      setTimeout(() => void (stopped ? undefined : start().then(relist, onError)), 1000).unref();
    });
  };
  await start();
  await relist();
  return {
    counts,
    async stop() {
      stopped = true;
      await stream?.end();
    },
  };
}
