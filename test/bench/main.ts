import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../src/config/read.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { flatShapeScript } from './flat-shape.js';
import { kubeProxyScript } from './peer-shapes.js';
import { renderIptablesScript } from '../../src/iptables/script.js';
import type { Model } from '../../src/model/types.js';
import { BACKENDS_PER_SERVICE, benchConfigJson, benchConfigYaml } from './gen-config.js';
import { int, mb, ms, sec, table } from './format.js';
import { minMedian, timeIptablesRestore, timeLoads, type LoadTiming } from './kernel-load.js';
import { createNamespace, kernelUnavailable } from './netns.js';
import { persistenceLoads } from './persistence-load.js';
import { datapathSection } from './dsr-datapath.js';
import type { RenderResult } from './render-child.js';
import { applyRows, applySection, machine, queryRows, type ApplyFigures } from './apply-bench.js';
import { healthSection } from './health-bench.js';
import { EXTRA_CA_VAR, measureNodeStartup, startupLine } from './node-start.js';
import { schedulerSection, type SchedulerFigures } from './scheduler-datapath.js';

// `node dist/test/bench/main.js [--sizes 1000,10000,50000] [--load-size 10000] [--runs 3] [--no-kernel]
// [--datapath-seconds 4]`: prints render time and peak memory per config size, the kernel load time of nftlb's script
// beside the one-anonymous-map-per-rule shape, and new connections and bytes per second through DSR beside masquerade. A benchmark, not a test: it asserts nothing and exits 0 unless it could not run.

/** The targets of issue 2, printed beside the measured figures. */
const TARGETS = { renderSize: 50_000, renderMs: 1000, renderMb: 300, loadSize: 10_000, loadMs: 500 } as const;
const CHILD_TIMEOUT_MS = 150_000;
const FORMATS = ['yaml', 'json'] as const;

interface Options {
  sizes: number[];
  loadSize: number;
  runs: number;
  kernel: boolean;
  /** Seconds of each datapath measurement (DSR beside masquerade); 0 leaves the datapath part out. */
  datapathSeconds: number;
  /** Service counts of the apply part (nftlb apply beside nft -f); empty leaves it out. */
  applySizes: number[];
  /** Where the markdown report goes (README's generated block: scripts/bench-readme.mjs). */
  report: string;
  /** Service counts of the backend-change part (health's incremental update); empty leaves it out. */
  healthSizes: number[];
  /** Seconds of each scheduler datapath run; 0 leaves that part out. */
  schedulerSeconds: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    sizes: [1000, 10_000, 50_000],
    loadSize: TARGETS.loadSize,
    runs: 3,
    kernel: true,
    datapathSeconds: 4,
    applySizes: [10_000, 50_000],
    report: 'dist/bench-report.md',
    healthSizes: [10_000, 50_000],
    schedulerSeconds: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = (v: string, max: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${a}: expected an integer 1..${max}, got ${v}`);
      return n;
    };
    if (a === '--sizes')
      o.sizes = next()
        .split(',')
        .map((v) => count(v, 200_000));
    else if (a === '--load-size') o.loadSize = count(next(), 100_000);
    else if (a === '--runs') o.runs = count(next(), 10);
    else if (a === '--no-kernel') o.kernel = false;
    else if (a === '--apply-sizes')
      o.applySizes =
        argv[i + 1] === '0'
          ? (i++, [])
          : next()
              .split(',')
              .map((v) => count(v, 100_000));
    else if (a === '--report') o.report = next();
    else if (a === '--health-sizes')
      o.healthSizes =
        argv[i + 1] === '0'
          ? (i++, [])
          : next()
              .split(',')
              .map((v) => count(v, 100_000));
    else if (a === '--scheduler-seconds') o.schedulerSeconds = Number(next()) === 0 ? 0 : count(argv[i]!, 30);
    else if (a === '--datapath-seconds') o.datapathSeconds = Number(next()) === 0 ? 0 : count(argv[i]!, 30);
    else throw new Error(`unknown argument ${String(a)}`);
  }
  return o;
}

// Runs one stage-by-stage measurement in a fresh node process so that its peak RSS is its own.
function renderInChild(file: string, n: number): Promise<RenderResult | string> {
  const child = fileURLToPath(new URL('./render-child.js', import.meta.url));
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--expose-gc', child, file, String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out) as RenderResult);
      else
        resolve(
          signal === 'SIGKILL'
            ? `timed out after ${CHILD_TIMEOUT_MS / 1000} s`
            : `exit ${String(code)}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
        );
    });
  });
}

/** One run of the installed command, `nftlb render -c FILE`, as a user runs it. */
interface CliRender {
  readonly services: number;
  readonly format: 'yaml' | 'json';
  /** Wall time from spawn to exit, node start-up and the script written to a pipe included. */
  readonly ms: number;
  /** Peak RSS of the nftlb process (reported by rss-probe.js from inside it). */
  readonly maxRssMb: number;
  readonly scriptBytes: number;
}

// Runs the bundled nftlb (what `make install` and the .deb ship) on a config file, stdout to a file next to it (as
// `nftlb render -c FILE > out.nft`): a pipe into this process would time how fast node drains it, not nftlb.
function cliRender(file: string, n: number, format: 'yaml' | 'json'): Promise<CliRender | string> {
  const outFile = `${file}.nft`;
  const out = openSync(outFile, 'w');
  const nftlb = fileURLToPath(new URL('../../nftlb.mjs', import.meta.url));
  const probe = new URL('./rss-probe.js', import.meta.url).href;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['--import', probe, nftlb, 'render', '-c', file], {
      stdio: ['ignore', out, 'pipe', 'pipe'],
    });
    let err = '';
    let rss = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    const [, , stderr, fd3] = p.stdio as unknown as (NodeJS.ReadableStream | null)[];
    stderr?.on('data', (d: Buffer) => (err += d.toString()));
    fd3?.on('data', (d: Buffer) => (rss += d.toString()));
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      closeSync(out);
      const bytes = statSync(outFile).size;
      rmSync(outFile);
      const kb = Number(rss.trim());
      if (code === 0 && Number.isFinite(kb) && kb > 0)
        resolve({ services: n, format, ms, maxRssMb: kb / 1024, scriptBytes: bytes });
      else
        resolve(
          signal === 'SIGKILL'
            ? `timed out after ${CHILD_TIMEOUT_MS / 1000} s`
            : `exit ${String(code)}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
        );
    });
  });
}

const say = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};
const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');

async function renderSection(o: Options): Promise<{ stages: RenderResult[]; cli: CliRender[] }> {
  say(
    `== Render: config file -> nft script, ${BACKENDS_PER_SERVICE} backends per service, one fresh node process per row ==`,
  );
  const results: RenderResult[] = [];
  const cli: CliRender[] = [];
  const failures: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-bench-'));
  try {
    for (const n of o.sizes) {
      for (const format of FORMATS) {
        const file = join(dir, `bench-${n}.${format}`);
        writeFileSync(file, format === 'json' ? benchConfigJson(n) : benchConfigYaml(n));
        // The command `runs` times (one run moves by ~10% with this VM's load): the median wall time, the largest RSS.
        const runs: CliRender[] = [];
        for (let i = 0; i < o.runs; i++) {
          const c = await cliRender(file, n, format);
          if (typeof c === 'string') {
            failures.push(`${int(n)} ${format} nftlb render: ${c}`);
            break;
          }
          runs.push(c);
        }
        if (runs.length === o.runs) {
          const wall = minMedian(runs.map((c) => c.ms))!.median;
          cli.push({ ...runs[0]!, ms: wall, maxRssMb: Math.max(...runs.map((c) => c.maxRssMb)) });
        }
        const r = await renderInChild(file, n);
        if (typeof r === 'string') failures.push(`${int(n)} ${format} stages: ${r}`);
        else results.push(r);
        rmSync(file);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  say(
    `\`nftlb render -c FILE > FILE.nft\`, the bundled command as installed, wall time from spawn to exit (median of ${o.runs} runs; peak RSS: the largest):`,
  );
  say(
    table(
      ['services', 'format', 'wall ms', 'peak RSS MB', 'script MB'],
      cli.map((c) => [int(c.services), c.format, ms(c.ms), mb(c.maxRssMb), mb(c.scriptBytes / 2 ** 20)]),
    ),
  );
  say();
  say('The same pipeline stage by stage, in process (checkConfig, plan, renderNftScript on the text of the file):');
  say(
    table(
      [
        'services',
        'format',
        'config MB',
        'validate ms',
        '(parse ms)',
        'plan ms',
        'render ms',
        'total ms',
        'cpu ms',
        'peak RSS MB',
        'base RSS MB',
        'heap MB',
      ],
      results.map((r) => [
        int(r.services),
        r.format,
        mb(r.configBytes / 2 ** 20),
        ms(r.validateMs),
        ms(r.parseMs),
        ms(r.planMs),
        ms(r.renderMs),
        ms(r.totalMs),
        ms(r.cpuMs),
        mb(r.maxRssMb),
        mb(r.baseRssMb),
        mb(r.heapUsedMb),
      ]),
    ),
  );
  say(
    'validate = checkConfig (parse + JSON Schema + normalize + semantic rules); parse = parseConfigText alone, timed again',
  );
  say(
    'afterwards; render = renderNftScript (build AST, render text, fingerprint); peak RSS includes node itself and the',
  );
  say(
    'config text (base RSS = before the pipeline ran); heap = V8 heap in use right after render; cpu = user + system',
  );
  say('CPU time of the pipeline (includes GC threads, so it can exceed wall time; steadier when the machine is busy).');
  for (const f of failures) say(`FAILED ${f}`);
  const seen = new Set<number>();
  const facts = results.filter((r) => !seen.has(r.services) && seen.add(r.services));
  say();
  say('Script facts (same for both formats):');
  say(
    table(
      [
        'services',
        'script bytes',
        'lines',
        'chains',
        'services4',
        'slots',
        'backends4',
        'nat_masquerade',
        'diagnostics',
      ],
      facts.map((r) => [
        int(r.services),
        int(r.scriptBytes),
        int(r.scriptLines),
        int(r.chains),
        int(r.elements.services4 ?? 0),
        int(r.elements.slots ?? 0),
        int(r.elements.backends4 ?? 0),
        int(r.elements.nat_masquerade ?? 0),
        int(r.diagnostics),
      ]),
    ),
  );
  return { stages: results, cli };
}

interface KernelFigures {
  readonly skipped: string | undefined;
  readonly timings: readonly LoadTiming[];
  readonly nftlbFresh: number | undefined;
  readonly nftlbReload: number | undefined;
}

async function kernelSection(o: Options): Promise<KernelFigures> {
  say();
  say(
    `== Kernel load: ${int(o.loadSize)} services x ${BACKENDS_PER_SERVICE} backends, nft -f - in a private network namespace, ${o.runs} runs ==`,
  );
  const why = o.kernel ? kernelUnavailable() : 'disabled with --no-kernel';
  if (why !== undefined) {
    say(`!!! KERNEL PART SKIPPED: ${why}. No load times were measured. !!!`);
    return { skipped: why, timings: [], nftlbFresh: undefined, nftlbReload: undefined };
  }
  const checked = checkConfig('bench.json', benchConfigJson(o.loadSize));
  if (checked.model === undefined) throw new Error('generated config is invalid');
  const nftlb = renderNftScript(plan(checked.model)).text;
  const flat = flatShapeScript(o.loadSize);
  say(
    `nftlb script ${int(Buffer.byteLength(nftlb))} bytes; anonymous-map-per-rule script ${int(Buffer.byteLength(flat))} bytes`,
  );
  const ns = createNamespace();
  const timings: LoadTiming[] = [];
  let kept = '';
  try {
    timings.push(await timeLoads(ns, 'nftlb: nft -c -f (check)', nftlb, 'check', o.runs));
    timings.push(await timeLoads(ns, 'nftlb: nft -f, fresh load', nftlb, 'fresh', o.runs));
    timings.push(await timeLoads(ns, 'nftlb: nft -f, reload of same script', nftlb, 'reload', o.runs));
    // The comparison shape takes ~10 s per load on the reference machine: check it once, load it `runs` times.
    timings.push(await timeLoads(ns, 'anon map per rule: nft -c -f (check)', flat, 'check', 1));
    timings.push(await timeLoads(ns, 'anon map per rule: nft -f, fresh load', flat, 'fresh', o.runs));
    // The peers' shapes (issue 16): kube-proxy's nftables mode and the iptables statistic recipe, once each (tens of
    // seconds at 10k services), each run bounded by its timeout.
    timings.push(
      await timeLoads(ns, 'kube-proxy nftables shape: nft -f, fresh load', kubeProxyScript(o.loadSize), 'fresh', 1),
    );
    timings.push(
      await timeIptablesRestore(
        ns,
        'iptables statistic chains (render --format iptables): iptables-restore',
        iptablesScript(checked.model),
      ),
    );
    const persistent = await persistenceLoads(ns, o.loadSize, o.runs);
    timings.push(...persistent.timings);
    kept = persistent.kept;
  } finally {
    ns.remove();
  }
  say(
    table(
      ['what', 'runs', 'min s', 'median s', 'median cpu s', 'all runs s'],
      timings.map((t) => {
        const mm = minMedian(t.runs);
        const cpu = minMedian(t.cpu);
        return [
          t.label,
          String(t.runs.length),
          mm ? sec(mm.min) : 'n/a',
          mm ? sec(mm.median) : 'n/a',
          cpu ? sec(cpu.median) : 'n/a',
          t.runs.map(sec).join(' ') + (t.error ? ` FAILED: ${t.error}` : ''),
        ];
      }),
    ),
  );
  const med = (i: number): number | undefined =>
    timings[i]?.error === undefined ? minMedian(timings[i]?.runs ?? [])?.median : undefined;
  const fresh = med(1);
  const flatFresh = med(4);
  if (fresh !== undefined && flatFresh !== undefined) {
    say(
      `ratio, fresh load median: anonymous-map-per-rule / nftlb = ${(flatFresh / fresh).toFixed(1)}x (${sec(flatFresh)} s vs ${sec(fresh)} s)`,
    );
  } else {
    say('ratio: n/a (a load failed, see above)');
  }
  // Persistence on every service beside the same services without it (issue 13), and the reload that keeps entries.
  // Wall and CPU medians: on a busy machine the CPU ratio is the steadier one.
  const cpuMed = (i: number): number | undefined =>
    timings[i]?.error === undefined ? minMedian(timings[i]?.cpu ?? [])?.median : undefined;
  const ratio = (a: number, b: number, what: string): void => {
    const [wa, wb, ca, cb] = [med(a), med(b), cpuMed(a), cpuMed(b)];
    const part = (x: number | undefined, y: number | undefined, unit: string): string =>
      x !== undefined && y !== undefined
        ? `${(x / y).toFixed(2)}x ${unit} (${sec(x)} s vs ${sec(y)} s)`
        : `n/a ${unit}`;
    say(`ratio, ${what}: ${part(wa, wb, 'wall')}, ${part(ca, cb, 'cpu')}`);
  };
  ratio(5, 1, 'kube-proxy nftables shape / nftlb, fresh load');
  ratio(6, 1, 'iptables statistic chains (iptables-restore) / nftlb (nft -f), fresh load');
  ratio(7, 1, 'fresh load median, persistence on every service / without');
  ratio(9, 8, 'persistence, reload median, in place with entries / whole replacement');
  ratio(9, 2, 'reload median, persistence in place with entries / without persistence');
  if (kept !== '') say(kept);
  say(
    'wall time is what a user waits for; cpu = user + system time of ip netns exec + nft (nft parses the script in user',
  );
  say('space, the kernel commits it in system time); on an idle machine wall ~= cpu.');
  return { skipped: undefined, timings, nftlbFresh: fresh, nftlbReload: med(2) };
}

// nftlb's iptables-restore input for the model (the seed-style statistic chains), as `render --format iptables` writes it.
function iptablesScript(model: Model): string {
  return renderIptablesScript(plan(model), 4);
}

// Render targets are judged on the installed command end to end (`nftlb render -c FILE`), start-up included.
function targetsSection(results: readonly CliRender[], k: KernelFigures): void {
  say();
  say('== Targets (issue 2) ==');
  const rows: string[][] = [];
  for (const format of FORMATS) {
    const r = results.find((x) => x.services === TARGETS.renderSize && x.format === format);
    const what = `nftlb render ${int(TARGETS.renderSize)} services (${format} config)`;
    if (r === undefined) {
      rows.push([`${what}, time`, `<= ${TARGETS.renderMs / 1000} s`, 'n/a', 'not measured']);
      rows.push([`${what}, peak RSS`, `<= ${TARGETS.renderMb} MB`, 'n/a', 'not measured']);
      continue;
    }
    rows.push([`${what}, time`, `<= ${TARGETS.renderMs / 1000} s`, `${sec(r.ms)} s`, mark(r.ms <= TARGETS.renderMs)]);
    rows.push([
      `${what}, peak RSS`,
      `<= ${TARGETS.renderMb} MB`,
      `${mb(r.maxRssMb)} MB`,
      mark(r.maxRssMb <= TARGETS.renderMb),
    ]);
  }
  const load = (label: string, v: number | undefined): string[] =>
    v === undefined
      ? [label, `<= ${TARGETS.loadMs / 1000} s`, 'n/a', k.skipped ? 'SKIPPED' : 'not measured']
      : [label, `<= ${TARGETS.loadMs / 1000} s`, `${sec(v)} s`, mark(v <= TARGETS.loadMs)];
  rows.push(load(`load ${int(TARGETS.loadSize)} services, fresh (median)`, k.nftlbFresh));
  rows.push(load(`load ${int(TARGETS.loadSize)} services, reload (median)`, k.nftlbReload));
  say(table(['target', 'limit', 'measured', 'status'], rows));
}

// Issue 16's targets beside what this run measured: met / NOT met (wall for apply and the no-op, whose CPU is printed in
// their table; the backend change is the median of sync() as health --watch calls it).
function issue16Targets(
  applied: readonly ApplyFigures[],
  health: { header: string[]; rows: string[][] } | undefined,
  schedulers: SchedulerFigures | undefined,
  cli: readonly CliRender[],
  k: KernelFigures,
  loadSize: number,
): string[][] {
  const rows: string[][] = [];
  for (const f of applied) {
    const ratio = (what: string, a: { wall: number } | undefined, b: { wall: number } | undefined): void => {
      const r = a !== undefined && b !== undefined ? a.wall / b.wall : undefined;
      rows.push([
        `${what}, ${int(f.services)} services`,
        '<= 1.3x nft -f',
        r === undefined ? 'n/a' : `${r.toFixed(2)}x wall`,
        r === undefined ? 'not measured' : mark(r <= 1.3),
      ]);
    };
    ratio('apply of a changed config (a delta from its last load)', f.apply, f.nft);
    ratio('apply over a table another program loaded (in full)', f.applyFull, f.nft);
    ratio('apply of a new config (no table yet)', f.applyFresh, f.nftFresh);
    rows.push([
      `apply with nothing to do, ${int(f.services)} services`,
      '<= 100 ms',
      f.noop === undefined ? 'n/a' : `${ms(f.noop.wall)} ms wall, ${ms(f.noop.cpu)} ms cpu`,
      f.noop === undefined ? 'not measured' : mark(f.noop.wall <= 100),
    ]);
  }
  if (health !== undefined)
    for (const [which, what] of [
      ['first backend', 'first backend of a pool'],
      ['middle backend', 'middle backend of a pool'],
      ['every backend (pool empties / refills)', 'a pool empties or refills'],
    ])
      health.header.slice(1).forEach((size, i) => {
        const row = health.rows.find((r) => r[0] === `--watch (cache), ${which}: sync() median / max`);
        const median = Number((row?.[i + 1] ?? '').split(' / ')[0]);
        rows.push([
          `one backend change (${what}), ${size}`,
          '<= 10 ms',
          Number.isFinite(median) ? `${ms(median)} ms median` : 'n/a',
          Number.isFinite(median) ? mark(median <= 10) : 'not measured',
        ]);
      });
  const yaml = cli.find((x) => x.services === TARGETS.renderSize && x.format === 'yaml');
  rows.push(
    yaml === undefined
      ? [`nftlb render ${int(TARGETS.renderSize)} services from YAML`, '<= 1 s, <= 300 MB', 'n/a', 'not measured']
      : [
          `nftlb render ${int(TARGETS.renderSize)} services from YAML`,
          `<= ${TARGETS.renderMs / 1000} s, <= ${TARGETS.renderMb} MB`,
          `${sec(yaml.ms)} s, ${mb(yaml.maxRssMb)} MB`,
          mark(yaml.ms <= TARGETS.renderMs && yaml.maxRssMb <= TARGETS.renderMb),
        ],
  );
  for (const f of applied.filter((x) => x.services === TARGETS.loadSize))
    for (const [what, v] of [
      ['status', f.status],
      ['diff', f.diff],
    ] as const)
      rows.push([
        `nftlb ${what}, ${int(f.services)} services`,
        '<= 1 s',
        v === undefined ? 'n/a' : `${ms(v.wall)} ms wall, ${ms(v.cpu)} ms cpu`,
        v === undefined ? 'not measured' : mark(v.wall <= 1000),
      ]);
  // The peers' shapes on the same services: printed as ratios to nftlb's fresh load (no limit: issue 16 asks for them
  // side by side).
  const load = (label: string): number | undefined => {
    const t = k.timings.find((x) => x.label.startsWith(label));
    return t === undefined || t.error !== undefined ? undefined : minMedian(t.runs)?.median;
  };
  for (const [label, what] of [
    ['kube-proxy nftables shape', 'kube-proxy nftables shape'],
    ['iptables statistic chains', 'iptables statistic chains (iptables-restore)'],
  ] as const) {
    const v = load(label);
    rows.push([
      `${what}, fresh load of the same ${int(loadSize)} services`,
      'printed beside nftlb',
      v === undefined || k.nftlbFresh === undefined
        ? 'n/a'
        : `${sec(v)} s = ${(v / k.nftlbFresh).toFixed(1)}x nftlb's ${sec(k.nftlbFresh)} s`,
      v === undefined ? 'not measured' : 'printed',
    ]);
  }
  if (schedulers !== undefined)
    for (const [name, f] of [...schedulers].slice(1))
      rows.push([`datapath: ${name}`, '>= 0.97x static DNAT', `${f.ratio.toFixed(2)}x`, mark(f.ratio >= 0.97)]);
  return rows;
}

// The markdown block README.md carries between its bench markers (scripts/bench-readme.mjs puts it there): the date,
// the machine, and the figures of this run, so the README's performance tables are this output and nothing else.
function writeReport(
  o: Options,
  startLoad: number,
  startup: string,
  cli: readonly CliRender[],
  k: KernelFigures,
  applied: readonly ApplyFigures[],
  health: { header: string[]; rows: string[][] } | undefined,
  schedulers: SchedulerFigures | undefined,
  targets16: readonly (readonly string[])[],
): void {
  const md = (header: readonly string[], rows: readonly (readonly string[])[]): string =>
    [
      `| ${header.join(' | ')} |`,
      `|${header.map(() => '---').join('|')}|`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  const out: string[] = [
    `Generated by \`make bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${machine()}; load average ${startLoad.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} when the apply, backend-change and scheduler parts were done (a shared VM: wall times move with it, CPU times much less). Medians of ${o.runs} runs.`,
    '',
    startup,
    '',
  ];
  out.push(
    'Targets of issue 16, from the figures below:',
    '',
    md(['target', 'limit', 'measured', 'status'], targets16),
    '',
  );
  if (applied.length > 0) {
    const t = applyRows(applied);
    const q = queryRows(applied);
    out.push(
      '`nftlb apply` of a changed config beside `nft -f` of the script it loads, and a no-op apply (exit 9), in a private namespace:',
      '',
      md(t.header, t.rows),
      '',
      '`nftlb status --json` and `nftlb diff` of the config just loaded (the whole command):',
      '',
      md(q.header, q.rows),
      '',
    );
  }
  if (health !== undefined)
    out.push(
      'One backend change (health verdict down, then up; the first and a middle backend of a pool, and all of them, at the first, middle and last service), ms:',
      '',
      md(health.header, health.rows),
      '',
    );
  if (schedulers !== undefined) {
    const x = (v: number): string => `${v.toFixed(2)}x`;
    out.push(
      'Datapath: new connections per second through one service beside one static DNAT rule (node client and server on the same 2 vCPUs; medians; each run of a shape paired with a run of the static rule next to it):',
      '',
      md(
        ['shape', 'new conns/s', '/ static (median of pairs)', 'pairs: lowest-highest'],
        [...schedulers].map(([name, f], i) => [
          name,
          int(Math.round(f.cps)),
          x(f.ratio),
          i === 0 ? '' : `${x(Math.min(...f.ratios))}-${x(Math.max(...f.ratios))}`,
        ]),
      ),
      '',
    );
  }
  out.push(
    `\`nftlb render -c FILE > FILE.nft\` (wall: median of ${o.runs} runs; peak RSS: the largest), 4 backends per service:`,
    '',
    md(
      ['services', 'format', 'wall ms', 'peak RSS MB', 'script MB'],
      cli.map((c) => [int(c.services), c.format, ms(c.ms), mb(c.maxRssMb), mb(c.scriptBytes / 2 ** 20)]),
    ),
    '',
  );
  if (k.skipped === undefined)
    out.push(
      md(
        ['kernel load, ' + int(o.loadSize) + ' services', 'median wall s', 'median cpu s'],
        k.timings.map((x) => [
          x.label,
          x.error === undefined ? sec(minMedian(x.runs)?.median ?? NaN) : 'failed',
          x.error === undefined ? sec(minMedian(x.cpu)?.median ?? NaN) : 'failed',
        ]),
      ),
      '',
    );
  writeFileSync(o.report, `${out.join('\n')}`);
  say(`markdown report: ${o.report} (node scripts/bench-readme.mjs puts it into README.md)`);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const startLoad = loadavg()[0]!;
  say(
    `nftlb benchmark: node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, ${new Date().toISOString()}`,
  );
  const startup = startupLine(measureNodeStartup(11));
  delete process.env[EXTRA_CA_VAR];
  say(startup);
  const { cli } = await renderSection(o);
  const k = await kernelSection(o);
  let applied: ApplyFigures[] = [];
  if (k.skipped === undefined && o.applySizes.length > 0) {
    const ns = createNamespace();
    try {
      applied = await applySection(say, ns, o.applySizes, o.runs);
    } catch (e) {
      say(`apply part FAILED: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      ns.remove();
    }
  }
  let health: { header: string[]; rows: string[][] } | undefined;
  if (k.skipped === undefined && o.healthSizes.length > 0) {
    try {
      health = await healthSection(say, o.healthSizes, Math.min(o.runs, 3));
    } catch (e) {
      say(`backend-change part FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let schedulers: SchedulerFigures | undefined;
  if (k.skipped === undefined && o.schedulerSeconds > 0) {
    try {
      // Five rounds of pairs at least: one run moves by +-10% on this VM, more than the 3% the target leaves.
      schedulers = await schedulerSection(say, { runs: Math.max(o.runs, 5), seconds: o.schedulerSeconds });
    } catch (e) {
      say(`scheduler datapath part FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const targets16 = issue16Targets(applied, health, schedulers, cli, k, o.loadSize);
  say();
  say('== Targets (issue 16) ==');
  say(table(['target', 'limit', 'measured', 'status'], targets16));
  writeReport(o, startLoad, startup, cli, k, applied, health, schedulers, targets16);
  if (k.skipped === undefined && o.datapathSeconds > 0) {
    try {
      await datapathSection(say, { runs: Math.min(o.runs, 3), seconds: o.datapathSeconds });
    } catch (e) {
      say(`datapath part FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (o.loadSize !== TARGETS.loadSize && k.skipped === undefined)
    say(`(load target is for ${int(TARGETS.loadSize)} services; measured ${int(o.loadSize)})`);
  targetsSection(cli, o.loadSize === TARGETS.loadSize ? k : { ...k, nftlbFresh: undefined, nftlbReload: undefined });
  say(
    `load average now ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (figures above are wall times; a busy machine inflates them)`,
  );
  say(`benchmark took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
