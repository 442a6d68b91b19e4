import { loadModel } from '../system/config-file.js';
import { renderNftScript } from '../nft/script.js';
import { checkStatusView } from '../health/check-status.js';
import { desiredPlan } from './desired.js';
import { effectiveState } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { FlowIndex, isBackendMark, serviceFlows } from '../plan/flows.js';
import { readConntrack, type CtEntry } from '../system/conntrack.js';
import type { Host } from '../system/host.js';
import { readLiveJson } from '../system/nft.js';
import { liveState, previousFingerprint, readOwnedTables, type LiveState } from '../system/owned-tables.js';
import { hasDsr } from '../plan/forwarding.js';
import { inetTableRef, ownedTableRefs, scriptTableRefs } from '../nft/tables.js';
import type { TableRef } from '../nft/ast.js';
import { judgeNoop, loadedFingerprint, readNoopRecord, unprovenNote, type NoopVerdict } from './noop.js';
import { listenerView } from './view.js';
import { serviceChain } from '../nft/names.js';
import { entriesOfJson, type LiveEntry } from '../nft/persistence-entries.js';
import { readEntryMaps } from '../system/set-elements.js';
import { FORWARD_NAMES, type ForwardDrops } from '../nft/forward.js';
import { addCounts, readRuleCounters, type ChainCounts } from '../system/rule-counters.js';
import { clusterStatus, type ClusterStatus } from '../cluster/status.js';

/** How the live tables relate to the config: absent, matches (same fingerprint), differs, or foreign (no fingerprint). */
export type { LiveState };

// Live figures of one backend; null where the source is unavailable (conntrack missing, accounting off).
export interface BackendStatus {
  readonly id: number;
  readonly endpoint: string;
  readonly weight: number;
  /** The state it is planned with: the config's, or the operator's override where that takes it further out. */
  readonly state: string;
  /** The operator's override (`nftlb backend drain|down`), or null; set, `state` comes from it. */
  readonly override: string | null;
  /** nftlb health's verdict: up, down, unknown (not decided yet) or unchecked (no health check configured). */
  readonly health: string;
  /** Whether new connections can go to it now (up, and in its pool). */
  readonly active: boolean;
  /** Conntrack entries of connections to this backend: addressed to one of its service's VIPs, protocols and ports,
   *  answered from its address (and port) (any state, TIME_WAIT included). */
  readonly connections: number | null;
  /** Of those, TCP ESTABLISHED and every UDP entry. */
  readonly established: number | null;
  /** Bytes of those entries, both directions (needs net.netfilter.nf_conntrack_acct=1). */
  readonly bytes: number | null;
  /** Persistence entries that name this backend (only for services with persistence; null when the live table does
   *  not match the config). */
  readonly persistenceEntries?: number | null;
}

// Live figures of one service.
export interface ServiceStatus {
  readonly name: string;
  readonly vips: readonly string[];
  readonly protocols: readonly string[];
  readonly ports: readonly string[];
  readonly scheduler: string;
  /** up: some backend is up; down: none is (new connections get on-empty). */
  readonly state: 'up' | 'down';
  /** "nat", or "dsr <interface>" (direct server return). */
  readonly forwarding: string;
  /** New connections dispatched to the service since its chains were last written (a full load, or a delta that
   *  changed the service), from their rule counters; null when the live table does not match the config, and for DSR
   *  (no conntrack: every packet is forwarded alike). */
  readonly newConnections: number | null;
  /** DSR: packets and bytes of the clients' direction the balancer forwarded since the table was loaded (replies go
   *  from the backends to the clients and are never seen); null for NAT or when the live tables do not match. */
  readonly packets: number | null;
  readonly bytes: number | null;
  readonly backends: readonly BackendStatus[];
}

// Everything `nftlb status` reports (its --json output).
export interface Status {
  readonly table: string;
  /** The tables of the config, as `family name`: the inet one, and the netdev one when some service is DSR. */
  readonly tables: readonly string[];
  readonly live: LiveState;
  /** Beside a live state of `matches` that rests on the fingerprint alone (src/ops/noop.ts, unprovenNote). */
  readonly liveNote?: string;
  readonly fingerprint: { readonly config: string; readonly live: string | null };
  readonly conntrack: {
    readonly available: boolean;
    readonly reason: string | null;
    readonly accounting: boolean;
    /** Entries conntrack listed (every mark); null when it is unavailable. */
    readonly entries: number | null;
  };
  readonly services: readonly ServiceStatus[];
  /** The forward filter (absent when the config has none): its accept list and what it dropped (null when the live
   *  table does not match the config). */
  readonly forward?: {
    readonly policy: 'drop';
    readonly accept: readonly string[];
    readonly dropped: ForwardDrops | null;
  };
  /** This node's part in the cluster (only with a cluster section): node, role, config fingerprint. */
  readonly cluster?: ClusterStatus;
}

// Reads config + live table + conntrack into one status. `stage` hears each stage as it starts (the progress line);
// `source` hears where the live tables' figures came from (`status -v`).
export async function readStatus(
  host: Host,
  o: { config: string; stage?: (what: string) => void; source?: (what: string) => void },
): Promise<Status> {
  const stage = o.stage ?? (() => undefined);
  const { model } = await loadModel(o.config, stage);
  // apply's record, judged once the config is read (a change to the file meanwhile shows as a change).
  const verdict = await judgeNoop(host, o.config, await readNoopRecord(host, o.config));
  // The kernel's dumps of the live tables' counters (and entries), each a process of its own: when the record proves
  // the live tables are its load's, they start now and run while the config is planned (the tables are the script's:
  // the inet one, and the netdev one when a service is DSR, as scriptTableRefs says of the plan); otherwise they run
  // while the tables are listed.
  const entries = model.services.some((s) => s.persistence !== undefined);
  const dsr = model.services.some((s) => s.dsr !== undefined);
  let dumped: Promise<LiveFigures | null> = Promise.resolve(null);
  const dump = (tables: readonly TableRef[]): void => {
    dumped = dumpedFigures(host, tables, entries);
    dumped.catch(() => undefined);
  };
  if (verdict.kind === 'hit') dump(dsr ? ownedTableRefs(model.table) : [inetTableRef(model.table)]);
  stage(`planning ${model.services.length} services`);
  const { plan: p, health } = await desiredPlan(model, host);
  const checks = new Map(checkStatusView(model, health, p).map((r) => [r.id, r]));
  stage('reading the live table and conntrack');
  // conntrack's listing meanwhile.
  const figures = new ConntrackFigures(p);
  const reading = readConntrack(
    host,
    (e) => figures.add(e),
    (mark) => figures.counts(mark),
  );
  reading.catch(() => undefined);
  const { fingerprint, tables, live, liveFingerprint } = await liveOf(host, p, verdict, dump);
  let counted = await dumped;
  const what = entries ? 'counters and persistence entries' : 'counters';
  if (live !== 'matches') {
    counted = null;
    o.source?.(`${what}: not read (the live tables do not match the config)`);
  } else if (counted !== null) o.source?.(`${what}: netlink dumps of the tables`);
  else {
    counted = await listedFigures(host, tables, entries);
    o.source?.(`${what}: nft's JSON listing (a netlink dump failed)`);
  }
  const ct = await reading;
  if (ct.kind === 'ok') figures.entries = ct.entries;
  const cluster = await clusterStatus(host, model);
  stage('putting the status together');
  const status = buildStatus(p, {
    checks,
    live,
    configFingerprint: fingerprint,
    liveFingerprint,
    counted,
    conntrack: ct.kind === 'ok' ? figures : null,
    ctReason: ct.kind === 'ok' ? null : ct.reason,
  });
  const note = live === 'matches' ? unprovenNote(verdict) : undefined;
  const noted = note === undefined ? status : { ...status, liveNote: note };
  return cluster === undefined ? noted : { ...noted, cluster };
}

/** What status read of the live tables: the counters of each chain's rules (summed by chain name over the tables; the
 *  DSR services' chains are in the netdev table), and the persistence entries (empty unless asked for). */
export interface LiveFigures {
  readonly counters: ReadonlyMap<string, ChainCounts>;
  readonly entries: readonly LiveEntry[];
}

// The live tables' figures from the kernel's dumps: each table's rules for the counters (src/system/rule-counters.ts:
// tens of milliseconds where nft's listing takes ~0.45 s at 10,000 services and ~2.9 s at 50,000) and, when the
// persistence entries are wanted, the elements of the entry maps (src/system/set-elements.ts; they are in the inet
// table); null when a dump failed (then listedFigures reads them).
async function dumpedFigures(host: Host, tables: readonly TableRef[], entries: boolean): Promise<LiveFigures | null> {
  const inet = tables.find((t) => t.family === 'inet');
  const [dumps, live] = await Promise.all([
    Promise.all(tables.map((t) => readRuleCounters(host, t))),
    entries && inet !== undefined ? readEntryMaps(host, inet) : Promise.resolve([]),
  ]);
  const counters = new Map<string, ChainCounts>();
  for (const c of dumps) {
    if (c === null) return null;
    for (const [chain, n] of c) addCounts(counters, chain, n);
  }
  return live === null ? null : { counters, entries: live };
}

// The live tables' figures from nft's JSON listing of them, for when a dump failed.
async function listedFigures(host: Host, tables: readonly TableRef[], entries: boolean): Promise<LiveFigures> {
  // Concatenated, never spread into push: a large listing can hold more items than a call takes arguments (~120,000).
  let json: unknown[] = [];
  for (const t of tables) json = json.concat((await readLiveJson(host, t, undefined, { elements: entries })) ?? []);
  return liveFiguresOfJson(json);
}

// The figures in nft's JSON listing of the tables (`nft -j list table`, items concatenated).
export function liveFiguresOfJson(json: readonly unknown[]): LiveFigures {
  return { counters: chainCounters(json), entries: entriesOfJson(json) };
}

// The config's fingerprint and tables, and how the live tables relate to them. When apply's record of its last load
// of this config proves nothing changed since (`verdict`, src/ops/noop.ts: the same config text, health verdicts and
// overrides, and no transaction in the kernel since), the live tables are the ones it loaded: neither the script is
// rendered nor the tables listed. Otherwise they are listed (a hand edit, another load, a table nftlb did not make,
// another program's transaction), and `listing` hears of it with the config's tables first; the script is rendered
// for its fingerprint unless the record still describes a load of the config (only the ruleset moved since).
async function liveOf(
  host: Host,
  p: Plan,
  verdict: NoopVerdict,
  listing: (tables: readonly TableRef[]) => void,
): Promise<{ fingerprint: string; tables: readonly TableRef[]; live: LiveState; liveFingerprint: string | null }> {
  if (verdict.kind === 'hit') {
    const fingerprint = verdict.record.fingerprint;
    return { fingerprint, tables: scriptTableRefs(p), live: 'matches', liveFingerprint: fingerprint };
  }
  // The config's fingerprint: the record's while it still describes a load of the config (only the ruleset moved
  // since, e.g. another program's transaction), else rendered (~0.1 s at 10k services, ~0.5 s at 50k).
  const tables = scriptTableRefs(p);
  const fingerprint = loadedFingerprint(verdict, () => renderNftScript(p).fingerprint);
  listing(tables);
  const owned = await readOwnedTables(host, p.table);
  return {
    fingerprint,
    tables,
    live: liveState(owned, tables, fingerprint),
    liveFingerprint: previousFingerprint(owned),
  };
}

// Pure part of status: combines the plan with what was read.
export function buildStatus(
  p: Plan,
  r: {
    checks: ReadonlyMap<number, { health: string; active: boolean }>;
    live: LiveState;
    configFingerprint: string;
    liveFingerprint: string | null;
    /** What was read of the live tables; null when they were not read (they do not match the config). */
    counted: LiveFigures | null;
    conntrack: ConntrackFigures | null;
    ctReason: string | null;
  },
): Status {
  const counters = r.counted?.counters ?? new Map<string, ChainCounts>();
  const entries = persistenceCounts(r.counted);
  const figures = r.conntrack;
  const accounting = figures?.accounting === true;
  const services = p.services.map((s): ServiceStatus => {
    const dsr = s.dsr !== undefined;
    // DSR keeps no conntrack entries on the balancer: nothing to count there.
    const ct = dsr ? null : figures;
    // Persistence entries of this service by backend tag; undefined without persistence (no field then).
    const mark = s.persistence?.mark;
    const byTag = mark === undefined ? undefined : (entries.get(mark) ?? NO_ENTRIES);
    // A service's chains are in one table, named alike in both (svc_<name>_v4/_v6); the counters are read from both.
    let packets: number | null = null;
    let bytes: number | null = null;
    if (r.counted !== null) {
      packets = bytes = 0;
      for (const pool of s.pools) {
        const c = counters.get(serviceChain(s.name, pool.family));
        packets += c?.packets ?? 0;
        bytes += c?.bytes ?? 0;
      }
    }
    const l = listenerView(s);
    return {
      name: l.name,
      vips: l.vips,
      protocols: l.protocols,
      ports: l.ports,
      scheduler: l.scheduler,
      forwarding: l.forwarding,
      state: s.pools.some((pool) => pool.selector !== null) ? 'up' : 'down',
      newConnections: dsr ? null : packets,
      packets: dsr ? packets : null,
      bytes: dsr ? bytes : null,
      backends: s.backends.map((b) => {
        const c = r.checks.get(b.id);
        // Fields named one by one (from the plan, not through a view) and persistenceEntries set in place: spreading
        // a view or a field object cost ~3 us per backend (120 ms at 40k).
        const out: Mutable<BackendStatus> = {
          id: b.id,
          endpoint: b.endpoint,
          weight: b.weight,
          state: effectiveState(b),
          override: b.override ?? null,
          health: c?.health ?? 'unchecked',
          active: c?.active ?? b.state === 'up',
          connections: ct === null ? null : (ct.connections[b.id] ?? 0),
          established: ct === null ? null : (ct.established[b.id] ?? 0),
          bytes: ct === null || !accounting ? null : (ct.bytes[b.id] ?? 0),
        };
        // Only for services with persistence, so the status of a config without it is what it was.
        if (byTag !== undefined) out.persistenceEntries = r.counted === null ? null : (byTag.get(b.tag!) ?? 0);
        return out;
      }),
    };
  });
  const status: Status = {
    table: p.table,
    tables: tableViewsOf(p),
    live: r.live,
    fingerprint: { config: r.configFingerprint, live: r.liveFingerprint },
    conntrack: { available: figures !== null, reason: r.ctReason, accounting, entries: figures?.entries ?? null },
    services,
  };
  if (p.forward === undefined) return status;
  const accept = p.forward.accept.map((x) => x.text);
  return {
    ...status,
    // The filter's one counter, on its final drop rule.
    forward: { policy: 'drop', accept, dropped: r.counted?.counters.get(FORWARD_NAMES.chain) ?? null },
  };
}

// Conntrack figures by backend id, summed as the entries are read: each entry's backend is found from its VIP and
// reply source (src/plan/flows.ts: one map lookup, not a filter per service, which was quadratic: 7 s at 10k services)
// and none is kept. Not by its ct mark: that is the id the backend had when the connection opened, which names
// another backend after a reload that moved ids.
export class ConntrackFigures {
  readonly connections: Uint32Array;
  readonly established: Uint32Array;
  readonly bytes: Float64Array;
  /** Some entry had byte counts: conntrack accounting is on. */
  accounting = false;
  /** Entries listed, of every mark. */
  entries = 0;
  private readonly index = new FlowIndex<number>();
  private seen = false;

  constructor(p: Plan) {
    let n = 0;
    for (const s of p.services) {
      const last = s.backends[s.backends.length - 1];
      if (last !== undefined) n = Math.max(n, last.id + 1);
      // DSR keeps no conntrack entries on the balancer.
      if (s.dsr !== undefined) continue;
      const flows = serviceFlows(s);
      s.backends.forEach((b, j) => this.index.add(flows[j]!, b.id));
    }
    this.connections = new Uint32Array(n);
    this.established = new Uint32Array(n);
    this.bytes = new Float64Array(n);
  }

  // Whether entries with this mark can count (some backend id, the one of when the connection opened); the others
  // need not be parsed. Entries without byte counts say accounting is off whatever their mark, so the first entry is
  // always wanted.
  counts(mark: number): boolean {
    return !this.seen || isBackendMark(mark);
  }

  add(e: CtEntry): void {
    this.seen = true;
    if (e.bytes !== null) this.accounting = true;
    const id = this.index.find(e);
    if (id === undefined) return;
    this.connections[id]!++;
    if (e.state === 'ESTABLISHED' || e.proto === 'udp') this.established[id]!++;
    this.bytes[id]! += e.bytes ?? 0;
  }
}

// A backend's status while it is built (persistenceEntries is set after the other fields, only where it belongs).
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NO_ENTRIES: ReadonlyMap<number, number> = new Map();

// Persistence entries of the live table counted by service mark, then backend tag (a mark and a tag name a backend
// whatever its id); empty when the live table was not read.
function persistenceCounts(counted: LiveFigures | null): Map<number, Map<number, number>> {
  const out = new Map<number, Map<number, number>>();
  if (counted === null) return out;
  for (const e of counted.entries) {
    let byTag = out.get(e.mark);
    if (byTag === undefined) out.set(e.mark, (byTag = new Map()));
    byTag.set(e.tag, (byTag.get(e.tag) ?? 0) + 1);
  }
  return out;
}

// The config's tables as `family name`.
function tableViewsOf(p: Plan): string[] {
  return (hasDsr(p) ? ownedTableRefs(p.table) : [inetTableRef(p.table)]).map((t) => `${t.family} ${t.name}`);
}

// Packets and bytes counted by the anonymous counters of each chain (in a nat chain: one packet per new connection; in
// a DSR service chain: every packet of the clients' direction).
function chainCounters(json: readonly unknown[]): Map<string, ChainCounts> {
  const out = new Map<string, ChainCounts>();
  for (const item of json) {
    const rule = (item as { rule?: { chain?: string; expr?: unknown[] } }).rule;
    if (rule?.chain === undefined || rule.expr === undefined) continue;
    for (const x of rule.expr) {
      const c = (x as { counter?: { packets?: number; bytes?: number } }).counter;
      if (c === undefined || c === null || typeof c.packets !== 'number') continue;
      const was = out.get(rule.chain) ?? { packets: 0, bytes: 0 };
      out.set(rule.chain, { packets: was.packets + c.packets, bytes: was.bytes + (c.bytes ?? 0) });
    }
  }
  return out;
}
