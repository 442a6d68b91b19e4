import { spawn } from 'node:child_process';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

// Runs the check command (no shell) with NFTLB_ADDRESS / NFTLB_PORT set; exit 0 passes. It runs in its own process
// group, and the whole group is killed at the timeout, so a shell script's children cannot keep the check alive.
export function execProbe(
  command: readonly string[],
  target: ProbeTarget,
  timeoutMs: number,
  env: NodeJS.ProcessEnv,
): Promise<ProbeResult> {
  const started = Date.now();
  const [file, ...args] = command;
  if (file === undefined) return Promise.resolve({ ok: false, reason: 'empty command', ms: 0 });
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, reason, ms: Date.now() - started });
    };
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...env,
        NFTLB_ADDRESS: target.address.text,
        NFTLB_PORT: target.port === undefined ? '' : String(target.port),
      },
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      killGroup();
      finish(false, `timeout after ${timeoutMs} ms`);
    }, timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.once('error', (e: NodeJS.ErrnoException) =>
      finish(false, e.code === 'ENOENT' ? `${file}: not found` : (e.code ?? e.message)),
    );
    // Leftover children of the check die with it; 'close' then follows once stderr has been read to the end.
    child.once('exit', killGroup);
    child.once('close', (code, signal) => {
      const why = code === null ? `signal ${signal ?? '?'}` : `exit ${code}`;
      const said = stderr.trim().split('\n')[0]?.slice(0, 120) ?? '';
      finish(code === 0, code === 0 ? 'exit 0' : said === '' ? why : `${why}: ${said}`);
    });
  });
}
