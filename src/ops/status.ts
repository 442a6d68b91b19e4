import { loadModel } from '../system/config-file.js';
import { renderNftScript } from '../nft/script.js';
import { checkStatusView } from '../health/check-status.js';
import { desiredPlan } from './desired.js';
import { SLOT_BASE, type Plan, type PlannedService } from '../plan/types.js';
import { readConntrack, type CtEntry } from '../system/conntrack.js';
import type { Host } from '../system/host.js';
import { readLiveJson, readLiveTable } from '../system/nft.js';
import { viewOf, type ServiceView } from './view.js';
import { ident, serviceChain } from '../nft/names.js';

/** How the live table relates to the config: absent, matches (same fingerprint), differs, or foreign (no fingerprint). */
export type LiveState = 'absent' | 'matches' | 'differs' | 'foreign';

// Live figures of one backend; null where the source is unavailable (conntrack missing, accounting off).
export interface BackendStatus {
  readonly id: number;
  readonly endpoint: string;
  readonly weight: number;
  readonly state: string;
  /** nftlb health's verdict: up, down, unknown (not decided yet) or unchecked (no health check configured). */
  readonly health: string;
  /** Whether new connections can go to it now (up, and in its pool). */
  readonly active: boolean;
  /** Conntrack entries whose ct mark is this backend's id (any state, TIME_WAIT included). */
  readonly connections: number | null;
  /** Of those, TCP ESTABLISHED and every UDP entry. */
  readonly established: number | null;
  /** Bytes of those entries, both directions (needs net.netfilter.nf_conntrack_acct=1). */
  readonly bytes: number | null;
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
  /** New connections dispatched to the service since the table was loaded (its chains' rule counters); null when the
   *  live table does not match the config. */
  readonly newConnections: number | null;
  readonly backends: readonly BackendStatus[];
}

// Everything `nftlb status` reports (its --json output).
export interface Status {
  readonly table: string;
  readonly live: LiveState;
  readonly fingerprint: { readonly config: string; readonly live: string | null };
  readonly conntrack: {
    readonly available: boolean;
    readonly reason: string | null;
    readonly accounting: boolean;
    /** Entries conntrack listed (every mark); null when it is unavailable. */
    readonly entries: number | null;
  };
  readonly services: readonly ServiceStatus[];
}

// Reads config + live table + conntrack into one status. `stage` hears each stage as it starts (the progress line).
export async function readStatus(host: Host, o: { config: string; stage?: (what: string) => void }): Promise<Status> {
  const stage = o.stage ?? (() => undefined);
  const { model } = await loadModel(o.config, stage);
  stage(`planning ${model.services.length} services`);
  const { plan: p, health } = await desiredPlan(model, host);
  const checks = new Map(checkStatusView(model, health, p).map((r) => [r.id, r]));
  const { fingerprint } = renderNftScript(p);
  const table = { family: 'inet', name: ident(p.table) } as const;
  stage('reading the live table');
  const head = await readLiveTable(host, table);
  const liveFp = head.kind === 'present' ? head.fingerprint : null;
  const live: LiveState =
    head.kind === 'absent' ? 'absent' : liveFp === null ? 'foreign' : liveFp === fingerprint ? 'matches' : 'differs';
  const json = live === 'matches' ? await readLiveJson(host, table) : null;
  stage('reading conntrack');
  const figures = new ConntrackFigures(p);
  const ct = await readConntrack(
    host,
    (e) => figures.add(e),
    (mark) => figures.counts(mark),
  );
  if (ct.kind === 'ok') figures.entries = ct.entries;
  stage('putting the status together');
  return buildStatus(p, {
    checks,
    live,
    configFingerprint: fingerprint,
    liveFingerprint: liveFp,
    json,
    conntrack: ct.kind === 'ok' ? figures : null,
    ctReason: ct.kind === 'ok' ? null : ct.reason,
  });
}

// Pure part of status: combines the plan with what was read.
export function buildStatus(
  p: Plan,
  r: {
    checks: ReadonlyMap<number, { health: string; active: boolean }>;
    live: LiveState;
    configFingerprint: string;
    liveFingerprint: string | null;
    json: unknown[] | null;
    conntrack: ConntrackFigures | null;
    ctReason: string | null;
  },
): Status {
  const counters = chainCounters(r.json ?? []);
  const views = viewOf(p);
  const figures = r.conntrack;
  const accounting = figures?.accounting === true;
  const services = p.services.map((s, i): ServiceStatus => {
    const v = views[i] as ServiceView;
    const newConnections =
      r.json === null
        ? null
        : s.pools.reduce((n, pool) => n + (counters.get(serviceChain(s.name, pool.family)) ?? 0), 0);
    return {
      name: v.name,
      vips: v.vips,
      protocols: v.protocols,
      ports: v.ports,
      scheduler: v.scheduler,
      state: s.pools.some((pool) => pool.selector !== null) ? 'up' : 'down',
      newConnections,
      backends: v.backends.map((b) => {
        const c = r.checks.get(b.id);
        // Fields named one by one: spreading the view cost ~3 us per backend (120 ms at 40k).
        return {
          id: b.id,
          endpoint: b.endpoint,
          weight: b.weight,
          state: b.state,
          health: c?.health ?? 'unchecked',
          active: c?.active ?? b.state === 'up',
          connections: figures === null ? null : (figures.connections[b.id] ?? 0),
          established: figures === null ? null : (figures.established[b.id] ?? 0),
          bytes: figures === null || !accounting ? null : (figures.bytes[b.id] ?? 0),
        };
      }),
    };
  });
  return {
    table: p.table,
    live: r.live,
    fingerprint: { config: r.configFingerprint, live: r.liveFingerprint },
    conntrack: { available: figures !== null, reason: r.ctReason, accounting, entries: figures?.entries ?? null },
    services,
  };
}

// Conntrack figures by backend id (the ct mark), summed as the entries are read: each entry is checked only against
// the service its mark names, and none is kept (filtering every entry per service was quadratic: 7 s at 10k services).
export class ConntrackFigures {
  readonly connections: Uint32Array;
  readonly established: Uint32Array;
  readonly bytes: Float64Array;
  /** Some entry had byte counts: conntrack accounting is on. */
  accounting = false;
  /** Entries listed, of every mark. */
  entries = 0;
  private readonly byId: PlannedService[] = [];
  private seen = false;

  constructor(p: Plan) {
    for (const s of p.services) for (const b of s.backends) this.byId[b.id] = s;
    this.connections = new Uint32Array(this.byId.length);
    this.established = new Uint32Array(this.byId.length);
    this.bytes = new Float64Array(this.byId.length);
  }

  // Whether entries with this mark can count (the mark is a backend id); the others need not be parsed. Entries
  // without byte counts say accounting is off whatever their mark, so the first entry is always wanted.
  counts(mark: number): boolean {
    return !this.seen || (mark > 0 && mark < this.byId.length && this.byId[mark] !== undefined);
  }

  add(e: CtEntry): void {
    this.seen = true;
    if (e.bytes !== null) this.accounting = true;
    const s = e.mark < this.byId.length ? this.byId[e.mark] : undefined;
    if (s === undefined || !belongsTo(s, e)) return;
    this.connections[e.mark]!++;
    if (e.state === 'ESTABLISHED' || e.proto === 'udp') this.established[e.mark]!++;
    this.bytes[e.mark]! += e.bytes ?? 0;
  }
}

// A conntrack entry is the service's when its mark is one of the service's backend ids and the client connected to
// one of its VIPs, protocols and ports (so a ct mark set by other software is not miscounted).
function belongsTo(s: PlannedService, e: CtEntry): boolean {
  const first = s.backends[0]?.id;
  const last = s.backends[s.backends.length - 1]?.id;
  if (first === undefined || last === undefined || e.mark < first || e.mark > last || e.mark >= SLOT_BASE) return false;
  if (!s.protocols.includes(e.proto as 'tcp' | 'udp')) return false;
  if (!s.pools.some((pool) => pool.vips.some((v) => v.text === e.dst))) return false;
  return e.dport !== undefined && s.ports.some((r) => e.dport! >= r.first && e.dport! <= r.last);
}

// Packets counted by the anonymous counter of each chain (in a nat chain: one per new connection).
function chainCounters(json: readonly unknown[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of json) {
    const rule = (item as { rule?: { chain?: string; expr?: unknown[] } }).rule;
    if (rule?.chain === undefined || rule.expr === undefined) continue;
    for (const x of rule.expr) {
      const c = (x as { counter?: { packets?: number } }).counter;
      if (c !== undefined && c !== null && typeof c.packets === 'number')
        out.set(rule.chain, (out.get(rule.chain) ?? 0) + c.packets);
    }
  }
  return out;
}
