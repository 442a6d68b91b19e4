import { loadedOverlay, healthStateFile, readHealthState, type HealthState } from '../health/state-file.js';
import type { Host } from '../system/host.js';
import type { Model } from '../model/types.js';
import { plan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';

// What desiredPlan takes from the state must be covered by plannedStateDigest (src/ops/planned-state.ts), which apply's
// no-op record compares.
// The plan `apply`, `status` and `diff` compare with the live table: the config with the health verdicts the live table
// was last built with (nftlb health's state file in the host's state directory), so an apply never brings a
// backend that its checks took out back into the pools. Without health checks this is plan(model).
export async function desiredPlan(model: Model, host: Host): Promise<{ plan: Plan; health: HealthState }> {
  const health = await readHealthState(healthStateFile(host.stateDir, model.table), model.table);
  return { plan: plan(model, loadedOverlay(health)), health };
}
