import type { HealthCheck, Model } from '../model/types.js';
import { plan } from '../plan/plan.js';
import type { ProbeResult, ProbeTarget } from './probe-types.js';
import { recordResults, type BackendTransition } from './records.js';
import { readHealthState, writeHealthState, type HealthState } from './state-file.js';
import { sync, type SyncDeps, type SyncOutcome } from './sync.js';
import { checkTargets, mapLimit, type CheckTarget } from './targets.js';
import { ConnectionCounts, listConnections, spillTargets, type FullChange } from './connections.js';

/** Everything a health round needs from outside; tests pass a fake executor and probe. */
export interface RoundDeps extends SyncDeps {
  readonly probe: (check: HealthCheck, target: ProbeTarget) => Promise<ProbeResult>;
  readonly now: () => Date;
  readonly stateFile: string;
  readonly warn: (msg: string) => void;
}

/** The outcome of one round: what changed and what was done about it. */
export interface RoundReport {
  readonly checked: number;
  readonly transitions: readonly BackendTransition[];
  /** limit-overflow spill: backends that became full or have room again. */
  readonly spill: readonly FullChange[];
  readonly sync: SyncOutcome;
}

/** How many checks run at once. */
export const PROBE_CONCURRENCY = 128;

// Probes the given targets (all of them by default) and folds the results into the state.
export async function probeTargets(
  deps: RoundDeps,
  state: HealthState,
  targets: readonly CheckTarget[],
): Promise<{ state: HealthState; transitions: BackendTransition[] }> {
  const results = await mapLimit(targets, PROBE_CONCURRENCY, (t) =>
    deps.probe(t.check, {
      address: t.backend.address,
      port: t.backend.port,
      ...(t.backend.vipCheck !== undefined ? { via: t.backend.vipCheck } : {}),
    }),
  );
  return recordResults(state, targets, results, deps.now());
}

// `nftlb health --once`: read state, check every backend once, update the kernel where membership changed, write state.
export async function healthOnce(deps: RoundDeps, model: Model): Promise<RoundReport> {
  const state = await readHealthState(deps.stateFile, model.table, deps.warn);
  const p = plan(model);
  const targets = checkTargets(model, p);
  const probed = await probeTargets(deps, state, targets);
  const counted = await countConnections(deps, model, p, probed.state);
  const out = await sync(deps, model, counted.state);
  await writeHealthState(deps.stateFile, out.state);
  return { checked: targets.length, transitions: probed.transitions, spill: counted.spill, sync: out };
}

// limit-overflow spill, once: counts the connections of the spill backends from one conntrack listing and records
// which are full (a backend full in `state` stays full until it is down to 3/4 of its limit).
export async function countConnections(
  deps: RoundDeps,
  model: Model,
  p: ReturnType<typeof plan>,
  state: HealthState,
): Promise<{ state: HealthState; spill: FullChange[] }> {
  const targets = spillTargets(model, p);
  if (targets.size === 0) return { state: state.full === undefined ? state : { ...state, full: {} }, spill: [] };
  const counts = new ConnectionCounts(targets, Object.keys(state.full ?? {}));
  const spill = counts.reset(await listConnections(deps.host));
  return { state: { ...state, full: fullRecord(counts.fullKeys()) }, spill };
}

// The state's record of full backends.
export function fullRecord(keys: Iterable<string>): Record<string, true> {
  const out: Record<string, true> = {};
  for (const k of keys) out[k] = true;
  return out;
}
