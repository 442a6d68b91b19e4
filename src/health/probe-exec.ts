import { execa } from 'execa';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

// Runs the check command (no shell) with NFTLB_ADDRESS / NFTLB_PORT set; exit 0 passes. Killed at the timeout.
export async function execProbe(command: readonly string[], target: ProbeTarget, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<ProbeResult> {
  const started = Date.now();
  const [file, ...args] = command;
  if (file === undefined) return { ok: false, reason: 'empty command', ms: 0 };
  const r = await execa(file, args, {
    reject: false,
    timeout: timeoutMs,
    stdin: 'ignore',
    env: { ...env, NFTLB_ADDRESS: target.address.text, NFTLB_PORT: target.port === undefined ? '' : String(target.port) },
    forceKillAfterDelay: 200,
  });
  const ms = Date.now() - started;
  if (r.timedOut) return { ok: false, reason: `timeout after ${timeoutMs} ms`, ms };
  if ((r as { code?: string }).code === 'ENOENT') return { ok: false, reason: `${file}: not found`, ms };
  if (r.exitCode === 0) return { ok: true, reason: 'exit 0', ms };
  const why = r.exitCode === undefined ? `signal ${r.signal ?? '?'}` : `exit ${r.exitCode}`;
  const said = String(r.stderr ?? '').trim().split('\n')[0]?.slice(0, 120) ?? '';
  return { ok: false, reason: said === '' ? why : `${why}: ${said}`, ms };
}
