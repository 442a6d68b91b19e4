import type { HealthCheck, Model } from '../model/types.js';
import { plan } from '../plan/plan.js';
import type { ProbeResult, ProbeTarget } from './probe-types.js';
import { recordResults, type BackendTransition } from './records.js';
import { readHealthState, writeHealthState, type HealthState } from './state-file.js';
import { sync, type SyncDeps, type SyncOutcome } from './sync.js';
import { checkTargets, mapLimit, type CheckTarget } from './targets.js';

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
    deps.probe(t.check, { address: t.backend.address, port: t.backend.port }),
  );
  return recordResults(state, targets, results, deps.now());
}

// `nftlb health --once`: read state, check every backend once, update the kernel where membership changed, write state.
export async function healthOnce(deps: RoundDeps, model: Model): Promise<RoundReport> {
  const state = await readHealthState(deps.stateFile, model.table, deps.warn);
  const targets = checkTargets(model, plan(model));
  const probed = await probeTargets(deps, state, targets);
  const out = await sync(deps, model, probed.state);
  await writeHealthState(deps.stateFile, out.state);
  return { checked: targets.length, transitions: probed.transitions, sync: out };
}
