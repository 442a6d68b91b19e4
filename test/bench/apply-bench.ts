// The apply part of `make bench` (issue 16): in a private namespace, at each size, `nftlb apply` of a changed config
// (the bundled command as installed, node start-up included) beside `nft -f` of nftlb's own script for the same change,
// and `nftlb apply` with nothing to do; alternated, `runs` times each, wall and CPU medians and their ratios. Bounded:
// every run has a timeout, and the loop a count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfigJson } from './gen-config.js';
import { int, ms, table } from './format.js';
import { minMedian } from './kernel-load.js';
import type { BenchNamespace } from './netns.js';
import { runSync, runTimed, type TimedRun } from './run-timed.js';

const TIMEOUT_MS = 180_000;

/** The medians of one size. */
export interface ApplyFigures {
  readonly services: number;
  /** `nft -f` of nftlb's whole script over the loaded table (the change both ways), and into no table at all. */
  readonly nft: { wall: number; cpu: number } | undefined;
  readonly nftFresh: { wall: number; cpu: number } | undefined;
  /** `nftlb apply` of a changed config over the table it loaded last (a delta, checked in its --json output). */
  readonly apply: { wall: number; cpu: number } | undefined;
  /** The same over a table another program loaded since (loaded in full, in place), and into no table at all. */
  readonly applyFull: { wall: number; cpu: number } | undefined;
  readonly applyFresh: { wall: number; cpu: number } | undefined;
  readonly noop: { wall: number; cpu: number } | undefined;
  /** `nftlb status -c FILE --json` and `nftlb diff -c FILE` of the config just loaded. */
  readonly status: { wall: number; cpu: number } | undefined;
  readonly diff: { wall: number; cpu: number } | undefined;
  readonly errors: readonly string[];
}

// The config of size n with one change: service 0's first backend on another port (the script differs in one element).
function changed(n: number): string {
  const raw = JSON.parse(benchConfigJson(n)) as { services: { backends: { port: number }[] }[] };
  raw.services[0]!.backends[0]!.port = 8081;
  return `${JSON.stringify(raw, null, 2)}\n`;
}

// Measures one size in `ns` (which it leaves without nftlb's table).
export async function applyFigures(ns: BenchNamespace, n: number, runs: number): Promise<ApplyFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-abench-'));
  const nftlb = fileURLToPath(new URL('../../nftlb.mjs', import.meta.url));
  const errors: string[] = [];
  const samples = {
    nft: [] as TimedRun[],
    nftFresh: [] as TimedRun[],
    apply: [] as TimedRun[],
    applyFull: [] as TimedRun[],
    applyFresh: [] as TimedRun[],
    noop: [] as TimedRun[],
    status: [] as TimedRun[],
    diff: [] as TimedRun[],
  };
  try {
    const files = [join(dir, 'a.json'), join(dir, 'b.json')] as const;
    writeFileSync(files[0], benchConfigJson(n));
    writeFileSync(files[1], changed(n));
    const env = [`NFTLB_LOCK=${join(dir, 'run', 'apply.lock')}`, `NFTLB_STATE_DIR=${join(dir, 'state')}`];
    const scripts: string[] = [];
    for (const f of files) {
      const r = await runTimed(process.execPath, [nftlb, 'render', '-c', f], '', TIMEOUT_MS);
      if (r.code !== 0) throw new Error(`nftlb render failed: ${r.stderr.trim()}`);
      scripts.push(r.stdout);
    }
    const nft = (script: string): Promise<TimedRun> =>
      runTimed('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], script, TIMEOUT_MS);
    const command = (...args: string[]): Promise<TimedRun> =>
      runTimed('ip', ['netns', 'exec', ns.name, 'env', ...env, process.execPath, nftlb, ...args], '', TIMEOUT_MS);
    const apply = (file: string): Promise<TimedRun> => command('apply', '-c', file, '--json');
    const keep = (into: TimedRun[], r: TimedRun, what: string, code = 0): void => {
      if (r.code === code) into.push(r);
      else errors.push(`${what}: exit ${String(r.code)} ${r.stderr.trim().split('\n')[0] ?? ''}`);
    };
    // An apply that must have loaded one way (its --json output says which: `load.form`).
    const applied = (into: TimedRun[], r: TimedRun, what: string, form: 'delta' | 'full'): void => {
      let got: string | undefined;
      try {
        got = (JSON.parse(r.stdout) as { load?: { form?: string } }).load?.form;
      } catch {
        got = undefined;
      }
      if (r.code === 0 && got !== form) errors.push(`${what}: loaded ${got ?? '?'}, expected ${form}`);
      else keep(into, r, what);
    };
    const drop = (): void => {
      runSync('ip', ['netns', 'exec', ns.name, 'nft', 'flush', 'ruleset']);
    };
    drop();
    keep([], await nft(scripts[0]!), 'first load');
    for (let i = 0; i < runs && errors.length === 0; i++) {
      // The same change both ways, through nft -f alone and through nftlb apply, alternated: after nft's loads apply
      // loads in full (in place: nothing proves the table is its own last load), then by deltas.
      keep(samples.nft, await nft(scripts[1]!), 'nft -f B');
      keep(samples.nft, await nft(scripts[0]!), 'nft -f A');
      applied(samples.applyFull, await apply(files[1]), 'apply B over a table nft loaded', 'full');
      applied(samples.apply, await apply(files[0]), 'apply A (delta)', 'delta');
      applied(samples.apply, await apply(files[1]), 'apply B (delta)', 'delta');
      applied(samples.apply, await apply(files[0]), 'apply A (delta)', 'delta');
      keep(samples.noop, await apply(files[0]), 'apply A again', 9);
      // What an operator asks of the loaded table (issue 16: within 1 s at 10k services).
      keep(samples.status, await command('status', '-c', files[0], '--json'), 'status');
      keep(samples.diff, await command('diff', '-c', files[0]), 'diff');
      // A new config: no table yet, by nft -f and by apply.
      drop();
      keep(samples.nftFresh, await nft(scripts[0]!), 'nft -f A, no table');
      drop();
      applied(samples.applyFresh, await apply(files[0]), 'apply A, no table', 'full');
    }
  } finally {
    runSync('ip', ['netns', 'exec', ns.name, 'nft', 'flush', 'ruleset']);
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (xs: readonly TimedRun[]): { wall: number; cpu: number } | undefined => {
    const w = minMedian(xs.map((x) => x.ms));
    const c = minMedian(xs.map((x) => x.cpuMs ?? NaN));
    return w === undefined || c === undefined ? undefined : { wall: w.median, cpu: c.median };
  };
  return {
    services: n,
    nft: med(samples.nft),
    nftFresh: med(samples.nftFresh),
    apply: med(samples.apply),
    applyFull: med(samples.applyFull),
    applyFresh: med(samples.applyFresh),
    noop: med(samples.noop),
    status: med(samples.status),
    diff: med(samples.diff),
    errors,
  };
}

// The machine the figures were taken on, for the report's heading.
export function machine(): string {
  const nft = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  const version = /v[0-9.]+/.exec(`${nft.stdout ?? ''}`)?.[0] ?? '?';
  return `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, Linux ${release()}, nftables ${version}, node ${process.version}`;
}

// The apply table (plain text and markdown rows share the cells).
export function applyRows(fs: readonly ApplyFigures[]): { header: string[]; rows: string[][] } {
  const x = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}x`;
  const v = (f: { wall: number; cpu: number } | undefined, k: 'wall' | 'cpu'): string => (f ? ms(f[k]) : 'n/a');
  const rows = fs.map((f) => [
    int(f.services),
    v(f.nft, 'wall'),
    v(f.apply, 'wall'),
    x(f.apply?.wall, f.nft?.wall),
    v(f.applyFull, 'wall'),
    x(f.applyFull?.wall, f.nft?.wall),
    v(f.nft, 'cpu'),
    v(f.apply, 'cpu'),
    v(f.applyFull, 'cpu'),
    v(f.nftFresh, 'wall'),
    v(f.applyFresh, 'wall'),
    x(f.applyFresh?.wall, f.nftFresh?.wall),
    v(f.noop, 'wall'),
    v(f.noop, 'cpu'),
  ]);
  return {
    header: [
      'services',
      'nft -f wall ms',
      'apply, delta: wall ms',
      'delta / nft -f',
      'apply, full: wall ms',
      'full / nft -f',
      'nft -f cpu ms',
      'delta cpu ms',
      'full cpu ms',
      'no table: nft -f wall ms',
      'no table: apply wall ms',
      'no table: apply / nft -f',
      'no-op wall ms',
      'no-op cpu ms',
    ],
    rows,
  };
}

// The status and diff table (wall and CPU medians at each size).
export function queryRows(fs: readonly ApplyFigures[]): { header: string[]; rows: string[][] } {
  const v = (x: { wall: number; cpu: number } | undefined, k: 'wall' | 'cpu'): string => (x ? ms(x[k]) : 'n/a');
  return {
    header: ['services', 'status --json wall ms', 'status cpu ms', 'diff wall ms', 'diff cpu ms'],
    rows: fs.map((f) => [
      int(f.services),
      v(f.status, 'wall'),
      v(f.status, 'cpu'),
      v(f.diff, 'wall'),
      v(f.diff, 'cpu'),
    ]),
  };
}

// Prints the apply section; returns the figures.
export async function applySection(
  say: (s?: string) => void,
  ns: BenchNamespace,
  sizes: readonly number[],
  runs: number,
): Promise<ApplyFigures[]> {
  say();
  say(`== nftlb apply beside nft -f of its own script (a one-element change, both ways), ${runs} runs ==`);
  const out: ApplyFigures[] = [];
  for (const n of sizes) out.push(await applyFigures(ns, n, runs));
  const t = applyRows(out);
  say(table(t.header, t.rows));
  for (const f of out) for (const e of f.errors) say(`FAILED at ${int(f.services)}: ${e}`);
  say('apply = `ip netns exec NS node dist/nftlb.mjs apply -c FILE --json` (start-up, read, validate, plan, render,');
  say('the cheap listing, lock, nft -f); nft -f = `ip netns exec NS nft -f -` of the whole script nftlb renders.');
  say('delta: over the table apply loaded last (3 per run: only the difference is sent); full: over a table nft -f');
  say(
    "loaded (nothing proves it is apply's own last load: the whole script, in place); no table: a new config into an",
  );
  say('empty ruleset. no-op = apply of the config just loaded (exit 9). cpu = user + system of the process tree (ip,');
  say('node, nft, perl), medians. Targets (issue 16): apply <= 1.3x nft -f; no-op <= 100 ms, flat.');
  const q = queryRows(out);
  say(table(q.header, q.rows));
  say('status and diff of the config just loaded (the whole command, node start-up included). Target: 1 s at 10k.');
  return out;
}
