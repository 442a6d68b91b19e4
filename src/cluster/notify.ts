import { NftlbError } from '../common/errors.js';
import type { Model } from '../model/types.js';
import { writeRole, type VrrpState } from '../system/cluster-role.js';
import { conntrackdCommand, type ConntrackdStep } from '../system/conntrackd.js';
import type { Host } from '../system/host.js';

/** The conntrackd commands of each VRRP state, in order (conntrack-tools' primary-backup.sh). */
export const TRANSITION_STEPS: Readonly<Record<VrrpState, readonly ConntrackdStep[]>> = {
  // Becoming master: the other node's connections into the kernel, then start afresh from the kernel's table and send
  // it all to the backup.
  master: ['commit', 'flush', 'resync', 'bulk'],
  // Becoming backup: the former master's own entries time out soon, and the new master sends everything.
  backup: ['shorten', 'request'],
  fault: ['shorten'],
};

/** What one step did. */
export interface StepResult {
  readonly step: ConntrackdStep;
  readonly error: string | null;
}

// `nftlb cluster notify STATE` (keepalived's notify scripts): the conntrackd steps of the state, every one tried even
// when one fails (as primary-backup.sh does), then the state recorded for `nftlb status`.
// A missing conntrackd program is reported as such (tool-missing) once the state is recorded.
export async function vrrpTransition(host: Host, model: Model, state: VrrpState): Promise<StepResult[]> {
  const out: StepResult[] = [];
  let missing: NftlbError | undefined;
  for (const step of TRANSITION_STEPS[state]) {
    try {
      await conntrackdCommand(host, step);
      out.push({ step, error: null });
    } catch (e) {
      if (e instanceof NftlbError && e.code === 'tool-missing') missing ??= e;
      out.push({ step, error: e instanceof Error ? e.message : String(e) });
    }
  }
  await writeRole(host, model.table, {
    state,
    since: new Date().toISOString(),
    failed: out.filter((r) => r.error !== null).map((r) => r.step),
  });
  if (missing !== undefined) throw missing;
  return out;
}
