import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

// The outcome of one timed command.
export interface TimedRun {
  readonly code: number | null;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

// Runs a command with `input` on stdin and times it from spawn to exit; kills it (by its pid) after timeoutMs.
export function runTimed(cmd: string, args: readonly string[], input: string, timeoutMs: number): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: performance.now() - t0, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

// Runs a short command synchronously (setup and cleanup, not timed); returns its exit status and stderr.
export function runSync(cmd: string, args: readonly string[], timeoutMs = 10_000): { code: number | null; stderr: string } {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.error ? null : r.status, stderr: r.error ? r.error.message : r.stderr };
}
