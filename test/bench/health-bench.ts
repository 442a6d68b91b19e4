import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemExecutor, type Executor } from '../../src/apply/executor.js';
import { checkConfig } from '../../src/config/validate.js';
import { incrementalUpdate } from '../../src/health/incremental.js';
import { FRESH, type HealthRecord } from '../../src/health/machine.js';
import { emptyState, type HealthState } from '../../src/health/state-file.js';
import { sync } from '../../src/health/sync.js';
import type { Model } from '../../src/model/types.js';
import { backendKey, plan } from '../../src/plan/plan.js';
import { ms, table } from './format.js';
import { benchConfigJson } from './gen-config.js';
import { createNamespace, kernelUnavailable } from './netns.js';

// `node dist/test/bench/health-bench.js [--sizes 1000,10000] [--runs 5]`: loads a table of N services (4 backends, tcp
// checks) in a private namespace, then takes one backend down and back up, RUNS times each at the first, middle and
// last service, and prints how long one membership change takes: the nft transaction alone and the whole sync() (lock,
// table handle, two plans, script, nft -f). A benchmark, not a test: it asserts nothing.

const TARGET_MS = 50;

function args(argv: readonly string[]): { sizes: number[]; runs: number } {
  const o = { sizes: [1000, 10_000], runs: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1] ?? '';
    if (argv[i] === '--sizes')
      o.sizes = v
        .split(',')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0 && n <= 100_000);
    else if (argv[i] === '--runs') o.runs = Math.min(Math.max(Number(v) || 5, 1), 50);
    else throw new Error(`unknown argument ${argv[i] ?? ''}`);
  }
  return o;
}

function modelWithChecks(n: number): Model {
  const raw = JSON.parse(benchConfigJson(n)) as { table?: string; services: Record<string, unknown>[] };
  raw.table = 'hbench';
  for (const s of raw.services) s['health'] = { type: 'tcp' };
  const c = checkConfig('bench.json', JSON.stringify(raw));
  if (c.model === undefined) throw new Error(`bench config invalid: ${c.diagnostics[0]?.message ?? ''}`);
  return c.model;
}

// Runs nft and conntrack inside the namespace; flock (the lock) on the host, where the lock file is.
function inNamespace(ns: string, base: Executor): Executor {
  return {
    run: (cmd, a, input) =>
      cmd === 'nft' || cmd === 'conntrack'
        ? base.run('ip', ['netns', 'exec', ns, cmd, ...a], input)
        : base.run(cmd, a, input),
    ...(base.start ? { start: base.start.bind(base) } : {}),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function measure(n: number, runs: number): Promise<string[]> {
  const model = modelWithChecks(n);
  const ns = createNamespace();
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-hbench-'));
  try {
    const exec = inNamespace(ns.name, systemExecutor());
    const deps = { exec, nft: 'nft', conntrack: 'conntrack', lockFile: join(dir, 'apply.lock'), lockWaitSeconds: 5 };
    const t0 = performance.now();
    let state: HealthState = (await sync(deps, model, emptyState('hbench'))).state;
    const fullMs = performance.now() - t0;
    const nftOnly: number[] = [];
    const whole: number[] = [];
    const p = plan(model);
    for (const idx of [0, Math.floor(n / 2), n - 1]) {
      const s = p.services[idx]!;
      const key = backendKey(s.name, s.backends[0]!.endpoint);
      for (let r = 0; r < runs; r++) {
        for (const verdict of ['down', 'up'] as const) {
          const rec: HealthRecord = { ...FRESH, state: verdict };
          const next: HealthState = { ...state, backends: { ...state.backends, [key]: rec } };
          // The nft transaction alone, on a twin change, then the full sync on the real one.
          const before = plan(model, { health: new Map(Object.entries(state.applied.health)) });
          const after = plan(model, { health: new Map([...Object.entries(state.applied.health), [key, verdict]]) });
          const script = incrementalUpdate(before, after).script;
          const a = performance.now();
          const out = await sync(deps, model, next);
          whole.push(performance.now() - a);
          if (out.action !== 'incremental')
            throw new Error(`expected an incremental update, got ${out.action} (${out.why})`);
          state = out.state;
          // Re-apply the inverse and the same script by hand to time nft alone.
          if (script !== null) {
            const inverse = incrementalUpdate(after, before).script!;
            await exec.run('nft', ['-f', '-'], inverse);
            const b = performance.now();
            const rr = await exec.run('nft', ['-f', '-'], script);
            nftOnly.push(performance.now() - b);
            if (rr.exitCode !== 0) throw new Error(rr.stderr);
          }
        }
      }
    }
    return [
      String(n),
      ms(fullMs),
      ms(median(nftOnly)),
      ms(Math.max(...nftOnly)),
      ms(median(whole)),
      ms(Math.max(...whole)),
      `<= ${TARGET_MS}`,
    ];
  } finally {
    ns.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

const why = kernelUnavailable();
if (why !== undefined) {
  process.stderr.write(`health bench: kernel part unavailable: ${why}\n`);
  process.exit(1);
}
const o = args(process.argv.slice(2));
const rows: string[][] = [];
for (const n of o.sizes) rows.push(await measure(n, o.runs));
process.stdout.write('One membership change (one backend down or up), incremental, in a private namespace (ms):\n');
process.stdout.write(
  table(['services', 'first full load', 'nft -f median', 'nft -f max', 'sync() median', 'sync() max', 'target'], rows),
);
