import type { BenchNamespace } from './netns.js';
import { runSync, runTimed } from './run-timed.js';

/** Longest a single nft run may take before the benchmark gives up on it. */
const NFT_TIMEOUT_MS = 120_000;

// Timings (ms) of repeated runs of one operation; failed runs are reported, not timed.
export interface LoadTiming {
  readonly label: string;
  readonly runs: readonly number[];
  /** CPU time (user + system) of each timed nft run, ms, when the platform reports it. */
  readonly cpu: readonly number[];
  readonly error: string | undefined;
}

// How one script is loaded for a timing: checked only, loaded into an empty ruleset, or loaded over itself.
export type LoadMode = 'check' | 'fresh' | 'reload';

// Times `nft [-c] -f -` of a script inside the namespace `runs` times, the way nftlb apply sends it (script on stdin).
// fresh: the namespace ruleset is flushed before each run (not timed); reload: the script is loaded once untimed, then
// each timed run replaces the table with itself; check: `nft -c` against an empty ruleset.
export async function timeLoads(
  ns: BenchNamespace,
  label: string,
  script: string,
  mode: LoadMode,
  runs: number,
): Promise<LoadTiming> {
  const flush = (): void => {
    const [cmd, ...args] = ns.exec('nft', 'flush', 'ruleset');
    const r = runSync(cmd!, args, NFT_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(`nft flush ruleset in ${ns.name} failed: ${r.stderr.trim()}`);
  };
  const [cmd, ...args] = ns.exec('nft', ...(mode === 'check' ? ['-c'] : []), '-f', '-');
  const times: number[] = [];
  const cpu: number[] = [];
  flush();
  if (mode === 'reload') {
    const first = await runTimed(cmd!, args, script, NFT_TIMEOUT_MS);
    if (first.code !== 0) return { label, runs: times, cpu, error: failure(first) };
  }
  for (let i = 0; i < runs; i++) {
    if (mode === 'fresh') flush();
    const r = await runTimed(cmd!, args, script, NFT_TIMEOUT_MS);
    if (r.code !== 0) return { label, runs: times, cpu, error: failure(r) };
    times.push(r.ms);
    if (r.cpuMs !== undefined) cpu.push(r.cpuMs);
  }
  flush();
  return { label, runs: times, cpu, error: undefined };
}

function failure(r: { code: number | null; stderr: string; timedOut: boolean }): string {
  if (r.timedOut) return `timed out after ${NFT_TIMEOUT_MS / 1000} s`;
  const lines = r.stderr.trim().split('\n');
  return `nft exited ${String(r.code)}: ${lines.slice(0, 3).join(' | ')}`;
}

// Smallest and median of a list of numbers (undefined when empty).
export function minMedian(xs: readonly number[]): { min: number; median: number } | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median };
}

// Times `iptables-restore --noflush` of a script once in the namespace (the nat table emptied before and after, not
// timed): how the seed-style iptables recipe loads the same services.
export async function timeIptablesRestore(ns: BenchNamespace, label: string, script: string): Promise<LoadTiming> {
  const flush = (): void => {
    for (const args of [
      ['-t', 'nat', '-F'],
      ['-t', 'nat', '-X'],
      ['-t', 'filter', '-F'],
      ['-t', 'filter', '-X'],
    ]) {
      const [cmd, ...rest] = ns.exec('iptables', ...args);
      runSync(cmd!, rest, NFT_TIMEOUT_MS);
    }
  };
  flush();
  const [cmd, ...args] = ns.exec('iptables-restore', '--noflush');
  try {
    const r = await runTimed(cmd!, args, script, NFT_TIMEOUT_MS * 3);
    if (r.code !== 0) return { label, runs: [], cpu: [], error: failure(r) };
    return { label, runs: [r.ms], cpu: r.cpuMs === undefined ? [] : [r.cpuMs], error: undefined };
  } finally {
    flush();
    const [c, ...a] = ns.exec('nft', 'flush', 'ruleset');
    runSync(c!, a, NFT_TIMEOUT_MS);
  }
}
