import { loadModel } from '../system/config-file.js';
import { renderNftScript } from '../nft/script.js';
import { checkStatusView } from '../health/check-status.js';
import { desiredPlan } from './desired.js';
import { effectiveState } from '../plan/plan.js';
import { SLOT_BASE, type Plan, type PlannedService } from '../plan/types.js';
import { readConntrack, type CtEntry } from '../system/conntrack.js';
import type { Host } from '../system/host.js';
import { readLiveJson } from '../system/nft.js';
import { liveState, previousFingerprint, readOwnedTables, type LiveState } from '../system/owned-tables.js';
import { hasDsr } from '../plan/forwarding.js';
import { inetTableRef, ownedTableRefs } from '../nft/tables.js';
import { viewOf, type ServiceView } from './view.js';
import { serviceChain } from '../nft/names.js';
import { entriesOfJson } from '../nft/persistence-entries.js';
import { forwardDropsOfJson, type ForwardDrops } from '../nft/forward.js';
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
  /** Conntrack entries whose ct mark is this backend's id (any state, TIME_WAIT included). */
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
  /** New connections dispatched to the service since the table was loaded (its chains' rule counters); null when the
   *  live table does not match the config, and for DSR (no conntrack: every packet is forwarded alike). */
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
  readonly fingerprint: { readonly config: string; readonly live: string | null };
  readonly conntrack: { readonly available: boolean; readonly reason: string | null; readonly accounting: boolean };
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

// Reads config + live table + conntrack into one status.
export async function readStatus(host: Host, o: { config: string }): Promise<Status> {
  const { model } = await loadModel(o.config);
  const { plan: p, health } = await desiredPlan(model, host);
  const checks = new Map(checkStatusView(model, health).map((r) => [r.id, r]));
  const { fingerprint, tables } = renderNftScript(p);
  const owned = await readOwnedTables(host, p.table);
  const live = liveState(owned, tables, fingerprint);
  // Every table's rules with their counters (the DSR services' chains are in the netdev table).
  let json: unknown[] | null = null;
  if (live === 'matches') {
    json = [];
    // The rules' counters; map elements only when persistence entries are counted.
    const elements = p.services.some((s) => s.persistence !== undefined);
    for (const t of tables) json.push(...((await readLiveJson(host, t, undefined, { elements })) ?? []));
  }
  const ct = await readConntrack(host);
  const cluster = await clusterStatus(host, model);
  const status = buildStatus(p, {
    checks,
    live,
    configFingerprint: fingerprint,
    liveFingerprint: previousFingerprint(owned),
    json,
    conntrack: ct.kind === 'ok' ? ct.entries : null,
    ctReason: ct.kind === 'ok' ? null : ct.reason,
  });
  return cluster === undefined ? status : { ...status, cluster };
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
    conntrack: readonly CtEntry[] | null;
    ctReason: string | null;
  },
): Status {
  const counters = chainCounters(r.json ?? []);
  // Persistence entries by service mark and backend tag (a mark and a tag name a backend whatever its id).
  const entries = new Map<string, number>();
  if (r.json !== null)
    for (const e of entriesOfJson(r.json))
      entries.set(`${e.mark}/${e.tag}`, (entries.get(`${e.mark}/${e.tag}`) ?? 0) + 1);
  const views = viewOf(p);
  const ct = r.conntrack;
  const accounting = ct !== null && ct.some((e) => e.bytes !== null);
  const services = p.services.map((s, i): ServiceStatus => {
    const v = views[i] as ServiceView;
    const mine = ct === null ? null : ct.filter((e) => belongsTo(s, e));
    // A service's chains are in one table, named alike in both (svc_<name>_v4/_v6); the counters are read from both.
    const sum = (k: 'packets' | 'bytes'): number | null =>
      r.json === null
        ? null
        : s.pools.reduce((n, pool) => n + (counters.get(serviceChain(s.name, pool.family))?.[k] ?? 0), 0);
    const dsr = s.dsr !== undefined;
    return {
      name: v.name,
      vips: v.vips,
      protocols: v.protocols,
      ports: v.ports,
      scheduler: v.scheduler,
      forwarding: v.forwarding ?? 'nat',
      state: s.pools.some((pool) => pool.selector !== null) ? 'up' : 'down',
      newConnections: dsr ? null : sum('packets'),
      packets: dsr ? sum('packets') : null,
      bytes: dsr ? sum('bytes') : null,
      backends: v.backends.map((b, j) => {
        // DSR keeps no conntrack entries on the balancer: nothing to count there.
        const es = dsr ? null : (mine?.filter((e) => e.mark === b.id) ?? null);
        const c = r.checks.get(b.id);
        const pb = s.backends[j]!;
        return {
          ...b,
          state: effectiveState(pb),
          override: pb.override ?? null,
          health: c?.health ?? 'unchecked',
          active: c?.active ?? b.state === 'up',
          connections: es === null ? null : es.length,
          established: es === null ? null : es.filter((e) => e.state === 'ESTABLISHED' || e.proto === 'udp').length,
          bytes: es === null || !accounting ? null : es.reduce((n, e) => n + (e.bytes ?? 0), 0),
          ...persistenceOf(s, b.id),
        };
      }),
    };
  });
  // Only for services with persistence, so the status of a config without it is what it was.
  function persistenceOf(s: PlannedService, id: number): { persistenceEntries?: number | null } {
    const mark = s.persistence?.mark;
    if (mark === undefined) return {};
    const tag = s.backends.find((b) => b.id === id)?.tag;
    return { persistenceEntries: r.json === null ? null : (entries.get(`${mark}/${tag}`) ?? 0) };
  }
  const status: Status = {
    table: p.table,
    tables: tableViewsOf(p),
    live: r.live,
    fingerprint: { config: r.configFingerprint, live: r.liveFingerprint },
    conntrack: { available: ct !== null, reason: r.ctReason, accounting },
    services,
  };
  if (p.forward === undefined) return status;
  const accept = p.forward.accept.map((x) => x.text);
  return {
    ...status,
    forward: { policy: 'drop', accept, dropped: r.json === null ? null : forwardDropsOfJson(r.json) },
  };
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

// The config's tables as `family name`.
function tableViewsOf(p: Plan): string[] {
  return (hasDsr(p) ? ownedTableRefs(p.table) : [inetTableRef(p.table)]).map((t) => `${t.family} ${t.name}`);
}

// Packets and bytes counted by the anonymous counters of each chain (in a nat chain: one packet per new connection; in
// a DSR service chain: every packet of the clients' direction).
function chainCounters(json: readonly unknown[]): Map<string, { packets: number; bytes: number }> {
  const out = new Map<string, { packets: number; bytes: number }>();
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
