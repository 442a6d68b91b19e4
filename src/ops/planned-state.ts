import { createHash } from 'node:crypto';
import { overrideStates, readOverrides } from '../health/overrides.js';
import { readHealthState, type HealthState } from '../health/state-file.js';

// What desiredPlan takes from the shared files of a table: nftlb health's state file, with the operator's overrides
// (their own file, `nftlb backend`) as HealthState.overrides. apply's no-op record compares its digest.
export async function readPlannedState(stateFile: string, overridesFile: string, table: string): Promise<HealthState> {
  const health = await readHealthState(stateFile, table);
  return plannedState(health, overrideStates(await readOverrides(overridesFile, table)));
}

// The same of a state in memory (the one nftlb health just wrote: writeHealthState leaves its overrides out, the read
// adds those of the overrides file last) with the overrides it synced with: the same object, key for key, so the same
// digest, without reading back the file just written (70-90 ms for 50,000 services).
export function plannedState(health: HealthState, overrides: NonNullable<HealthState['overrides']>): HealthState {
  const { overrides: current, ...rest } = health;
  void current;
  return { ...rest, overrides };
}

// A digest of what desiredPlan plans with (readPlannedState): everything but the check records (`backends`, which
// change every round) and health's own record of its last full load (`live`). apply's no-op record compares it, so
// whatever desiredPlan comes to use from the state must be in it (it is, unless it is in those two).
export function plannedStateDigest(s: HealthState): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...s, backends: undefined, live: undefined }))
    .digest('hex');
}
