import type { HealthCheck, Model } from '../model/types.js';
import { plan } from '../plan/plan.js';
import type { ProbeResult, ProbeTarget } from './probe-types.js';
import { recordResults, type BackendTransition } from './records.js';
import { NftlbError } from '../common/errors.js';
import { probeWritable } from '../system/atomic-write.js';
import { acquireLock } from '../system/lock.js';
import { SharedState, type OverrideChange } from './shared-state.js';
import { writeHealthState, type HealthState } from './state-file.js';
import { sync, type SyncDeps, type SyncOutcome } from './sync.js';
import { checkTargets, mapLimit, type CheckTarget } from './targets.js';
import { ConnectionCounts, listConnections, spillTargets, type FullChange } from './connections.js';

/** Everything a health round needs from outside; tests pass a fake executor and probe. */
export interface RoundDeps extends SyncDeps {
  readonly probe: (check: HealthCheck, target: ProbeTarget) => Promise<ProbeResult>;
  readonly now: () => Date;
  readonly stateFile: string;
  readonly warn: (msg: string) => void;
  /** Other records of the live table to carry past health's own transactions (`nftlb apply`'s no-op record: the cli
   *  passes src/ops/noop.ts's keeper). Optional; best effort. */
  readonly records?: RecordKeeper;
}

/** Keeps a record of the live table true across a sync: `before` is taken before the sync's transaction (what the
 *  record said then), `after` once the state file describes the table the sync left. */
export interface RecordKeeper {
  before(model: Model): Promise<unknown>;
  after(model: Model, before: unknown, out: SyncOutcome): Promise<void>;
}

/** The outcome of one round: what changed and what was done about it. */
export interface RoundReport {
  readonly checked: number;
  readonly transitions: readonly BackendTransition[];
  /** limit-overflow spill: backends that became full or have room again. */
  readonly spill: readonly FullChange[];
  /** Overrides (`nftlb backend`) this process picked up in the round (health --watch; --once reports none). */
  readonly overrides?: readonly OverrideChange[];
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

// `nftlb health --once`: read state, check every backend once, then under the apply lock update the kernel where
// membership changed (with the overrides, and the records of whoever loaded the table while the checks ran) and write
// the state.
export async function healthOnce(deps: RoundDeps, model: Model): Promise<RoundReport> {
  const shared = new SharedState(deps.stateFile, model.table, deps.warn);
  const state = await shared.read();
  const p = plan(model);
  const targets = checkTargets(model, p);
  const probed = await probeTargets(deps, state, targets);
  const counted = await countConnections(deps, model, p, probed.state);
  // The state file records what the table was built with: a directory it cannot be written in (read-only, full) stops
  // the round before the table changes, not after.
  await probeWritable(deps.stateFile);
  const release = await acquireLock(deps.host, deps.lockWaitSeconds);
  try {
    const before = await deps.records?.before(model).catch(() => undefined);
    const out = await sync({ ...deps, lockHeld: true, refresh: (s) => shared.refresh(s) }, model, counted.state);
    try {
      await writeHealthState(deps.stateFile, out.state);
    } catch (e) {
      // Passed the probe, failed now (the file is larger than what was left): the table has changed, say so.
      if (!(e instanceof NftlbError) || out.action === 'none') throw e;
      throw new NftlbError('host-fault', `${e.message}; the table was changed all the same (${out.why})`, {
        cause: e,
        detail: e.detail,
      });
    }
    await deps.records?.after(model, before, out).catch(() => undefined);
    return { checked: targets.length, transitions: probed.transitions, spill: counted.spill, sync: out };
  } finally {
    await release();
  }
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
