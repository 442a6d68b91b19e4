import { overridesFile } from '../health/overrides.js';
import { loadedOverlay, healthStateFile, overrideLookup, type HealthState } from '../health/state-file.js';
import type { Host } from '../system/host.js';
import type { Model } from '../model/types.js';
import { plan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { readPlannedState } from './planned-state.js';

// The plan `apply`, `status` and `diff` compare with the live table: the config with the health verdicts the live table
// was last built with (nftlb health's state file in the host's state directory), so an apply never brings a
// backend that its checks took out back into the pools, and with the operator's overrides (`nftlb backend`), so an
// apply keeps a drained backend drained. Without health checks and overrides this is plan(model). The state returned
// carries the overrides (HealthState.overrides). What it takes from the state must be covered by plannedStateDigest
// (src/ops/planned-state.ts), which apply's no-op record compares.
export async function desiredPlan(model: Model, host: Host): Promise<{ plan: Plan; health: HealthState }> {
  const health = await readPlannedState(
    healthStateFile(host.stateDir, model.table),
    overridesFile(host.stateDir, model.table),
    model.table,
  );
  return {
    plan: plan(model, { ...loadedOverlay(health), override: overrideLookup(health.overrides) }),
    health,
  };
}
