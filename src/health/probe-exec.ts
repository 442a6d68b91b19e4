import { runCheckProgram } from '../system/executor.js';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

// Runs the check command (no shell) with NFTLB_ADDRESS / NFTLB_PORT set; exit 0 passes.
export async function execProbe(
  command: readonly string[],
  target: ProbeTarget,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<ProbeResult> {
  const started = Date.now();
  const r = await runCheckProgram(
    command,
    { ...env, NFTLB_ADDRESS: target.address.text, NFTLB_PORT: target.port === undefined ? '' : String(target.port) },
    timeoutMs,
  );
  return { ok: r.ok, reason: r.reason, ms: Date.now() - started, ...(r.inconclusive ? { inconclusive: true } : {}) };
}
