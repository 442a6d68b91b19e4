import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// The outcome of one timed command.
export interface TimedRun {
  readonly code: number | null;
  readonly ms: number;
  /** user + system CPU time of the command and its children, ms (10 ms resolution; undefined off Linux). */
  readonly cpuMs: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

// Runs a command with `input` on stdin and times it from spawn to exit; kills it (by its pid) after timeoutMs. The
// environment is this process's unless `env` is given.
export function runTimed(
  cmd: string,
  args: readonly string[],
  input: string,
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const cpu0 = waitedChildrenCpuMs();
    const t0 = performance.now();
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
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
      const ms = performance.now() - t0;
      const cpu1 = waitedChildrenCpuMs();
      resolve({
        code,
        ms,
        cpuMs: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
        stdout,
        stderr,
        timedOut,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

// Runs a short command synchronously (setup and cleanup, not timed); returns its exit status and stderr.
export function runSync(
  cmd: string,
  args: readonly string[],
  timeoutMs = 10_000,
): { code: number | null; stderr: string } {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.error ? null : r.status, stderr: r.error ? r.error.message : r.stderr };
}

const CLK_TCK = 100;

// CPU time of this process's terminated, waited-for children (cutime + cstime of /proc/self/stat), ms. Sequential runs
// only: the difference around one run is that run's CPU, which a busy machine does not inflate as it does wall time.
function waitedChildrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}
