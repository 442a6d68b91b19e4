import { createHash } from 'node:crypto';
import type { HealthState } from '../health/state-file.js';

// A digest of what desiredPlan takes from nftlb health's state: everything but the check records (`backends`, which
// change every round) and health's own record of its last full load (`live`). apply's no-op record compares it, so
// whatever desiredPlan comes to use from the state must be in it (it is, unless it is in those two).
export function plannedStateDigest(s: HealthState): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...s, backends: undefined, live: undefined }))
    .digest('hex');
}
