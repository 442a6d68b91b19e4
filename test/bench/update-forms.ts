import { pathToFileURL } from 'node:url';
import { systemExecutor, type Executor } from '../../src/system/executor.js';
import { checkConfig } from '../../src/config/read.js';
import { resolveHost } from '../../src/system/host.js';
import { nftSession } from '../../src/system/nft-session.js';
import { plan } from '../../src/plan/plan.js';
import { renderNftScript } from '../../src/nft/script.js';
import { ms, table } from './format.js';
import { benchConfigJson } from './gen-config.js';
import { createNamespace, kernelUnavailable } from './netns.js';
import { spawnSync } from 'node:child_process';
import { benchOptions, countOption, sizesOption } from './args.js';

// `node dist/test/bench/update-forms.js [--sizes 1000,10000] [--runs 7]`: what one nft transaction of each kind costs
// in a persistent `nft -i` session (as `nftlb health --watch` sends them) against a loaded nftlb table of N services, to
// tell which kinds grow with the table. Each form is one line; the table gets a few extra objects to try forms on
// (unreferenced chains, a verdict-free selector chain the service chain jumps to). A benchmark: it asserts nothing.

function args(argv: readonly string[]): { sizes: number[]; runs: number; only: string | undefined } {
  const o = benchOptions(argv, ['sizes', 'runs', 'only']);
  return {
    sizes: sizesOption(o.sizes, [1000, 10_000], 254_000),
    runs: countOption('runs', o.runs, 7, 100),
    only: o.only,
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** One kind of transaction: the line of its run r (forms alternate so each run really changes something). */
interface Form {
  readonly label: string;
  line(r: number): string;
}

function forms(n: number): Form[] {
  const T = 'inet ub';
  const k = Math.floor(n / 2);
  const svc = `svc_svc${k}_v4`;
  const base = 1 + 4 * k;
  const vip = `203.0.113.${1 + Math.floor(k / 1000)} . tcp . ${1000 + (k % 1000)}`;
  const k2 = Math.floor(n / 4);
  const vip2 = `203.0.113.${1 + Math.floor(k2 / 1000)} . tcp . ${1000 + (k2 % 1000)}`;
  const mod = (r: number): number => (r % 2 === 0 ? 3 : 4);
  const listener = 'type ipv4_addr . inet_proto . inet_service : verdict';
  return [
    { label: 'guard flush only (no-op round)', line: () => `flush chain ${T} xguard` },
    { label: 'guard flush + add table (as health sends)', line: () => `flush chain ${T} xguard; add table ${T}` },
    {
      label: 'guard, svc chain rewrite (no verdict)',
      line: (r) =>
        `flush chain ${T} xguard; flush chain ${T} ${svc}; add chain ${T} ${svc} { counter ct mark set numgen inc mod ${mod(r)} offset ${base}; }`,
    },
    {
      label: 'svc chain rewrite alone (no verdict)',
      line: (r) =>
        `flush chain ${T} ${svc}; add chain ${T} ${svc} { counter ct mark set numgen inc mod ${mod(r)} offset ${base}; }`,
    },
    {
      label: 'health: guard, add table, svc chain rewrite (no verdict)',
      line: (r) =>
        `flush chain ${T} xguard; add table ${T}; flush chain ${T} ${svc}; add chain ${T} ${svc} { counter ct mark set numgen inc mod ${mod(r)} offset ${base}; }`,
    },
    ...(
      [
        ['immediate', (v: number) => `${v}`],
        ['numgen mod 1', (v: number) => `numgen inc mod 1 offset ${v}`],
        ['symhash mod 1', (v: number) => `symhash mod 1 offset ${v}`],
      ] as const
    ).map(([what, e]): Form => ({
      label: `svc chain rewrite, constant mark (${what})`,
      line: (r) => `flush chain ${T} ${svc}; add chain ${T} ${svc} { counter ct mark set ${e(base + (r % 2))}; }`,
    })),
    {
      label: 'svc chain rewrite, rule with goto pick (before)',
      line: (r) =>
        `flush chain ${T} ${svc}; add chain ${T} ${svc} { counter ct mark set numgen inc mod ${mod(r)} offset ${base} goto pick; }`,
    },
    {
      label: 'unreferenced chain rewrite: ct mark set, no verdict',
      line: (r) =>
        `flush chain ${T} xsel; add chain ${T} xsel { counter ct mark set numgen inc mod ${mod(r)} offset 1; }`,
    },
    {
      label: 'unreferenced chain rewrite: counter only',
      line: (r) => `flush chain ${T} xsel; add chain ${T} xsel { counter${r % 2 === 0 ? '' : ' counter'}; }`,
    },
    {
      label: 'unreferenced chain rewrite: meta mark set, no verdict',
      line: (r) => `flush chain ${T} xsel; add chain ${T} xsel { meta mark set numgen inc mod ${mod(r)} offset 1; }`,
    },
    {
      label: 'unreferenced chain rewrite: with goto pick',
      line: (r) =>
        `flush chain ${T} xsel; add chain ${T} xsel { counter ct mark set numgen inc mod ${mod(r)} offset 1 goto pick; }`,
    },
    {
      label: 'jumped-to selector chain rewrite, no verdict',
      line: (r) =>
        `flush chain ${T} xsel2; add chain ${T} xsel2 { counter ct mark set numgen inc mod ${mod(r)} offset 1; }`,
    },
    {
      label: 'sel: jumped-to chain rewrite, anonymous slot map',
      line: (r) =>
        `flush chain ${T} xsel2; add chain ${T} xsel2 { counter ct mark set numgen inc mod ${mod(r)} map { ${[
          5, 6, 7, 8,
        ]
          .slice(0, mod(r))
          .map((v, i) => `${i} : ${v}`)
          .join(', ')} }; }`,
    },
    {
      label: 'sel: jumped-to chain rewrite, named map lookup',
      line: (r) =>
        `add map ${T} xslots { type mark : mark; }; flush chain ${T} xsel2; add chain ${T} xsel2 { counter ct mark set numgen inc mod ${mod(r)}; ct mark set ct mark map @xslots; }`,
    },
    {
      label: 'sel: add small named map + chain rewrite using it',
      line: (r) =>
        `add map ${T} xs${r} { type mark : mark; elements = { 0 : 5, 1 : 6, 2 : 7 } }; flush chain ${T} xsel2; add chain ${T} xsel2 { counter ct mark set numgen inc mod 3; ct mark set ct mark map @xs${r}; }`,
    },
    {
      label: 'slots: add element (add map form)',
      line: (r) => `add map ${T} slots { type mark : mark; elements = { ${900_000 + r} : 5 } }`,
    },
    { label: 'slots: delete element', line: (r) => `delete element ${T} slots { ${900_000 + r} }` },
    {
      label: 'slots: flush a small per-service map',
      line: () => `flush map ${T} xslots`,
    },
    { label: 'services4: delete element (vmap)', line: () => `delete element ${T} services4 { ${vip2} }` },
    {
      label: 'services4: add element (goto, vmap)',
      line: () => `add map ${T} services4 { ${listener}; elements = { ${vip2} : goto svc_svc${k2}_v4 } }`,
    },
    {
      label: 'closed4: add element (jump refuse, interval)',
      line: (r) =>
        `add map ${T} closed4 { ${listener}; flags interval; elements = { 203.0.113.251 . tcp . ${2000 + r} : jump refuse } }`,
    },
    {
      label: 'pool empties or refills: its chain rewritten (empty mark / selector)',
      line: (r) =>
        `flush chain ${T} ${svc}; add chain ${T} ${svc} { counter ct mark set ${r % 2 === 0 ? 'numgen random mod 1 offset 4294966272' : `numgen inc mod 4 offset ${base}`}; }`,
    },
    {
      label: 'pool empties: delete services4 + add closed4 (before)',
      line: () =>
        `delete element ${T} services4 { ${vip} }; add map ${T} closed4 { ${listener}; flags interval; elements = { ${vip} : jump refuse } }`,
    },
    {
      label: 'pool refills: delete closed4 + add services4 (before)',
      line: () =>
        `delete element ${T} closed4 { ${vip} }; add map ${T} services4 { ${listener}; elements = { ${vip} : goto ${svc} } }`,
    },
  ];
}

// Forms that undo each other run in pairs: `add` then `delete` of the same element, `empties` then `refills`.
const PAIRS: readonly (readonly [string, string])[] = [
  ['slots: add element (add map form)', 'slots: delete element'],
  ['services4: delete element (vmap)', 'services4: add element (goto, vmap)'],
  ['pool empties: delete services4 + add closed4 (before)', 'pool refills: delete closed4 + add services4 (before)'],
];

async function measure(n: number, runs: number, only: string | undefined): Promise<Map<string, string>> {
  const raw = JSON.parse(benchConfigJson(n)) as { table?: string };
  raw.table = 'ub';
  const c = checkConfig('bench.json', JSON.stringify(raw));
  if (c.model === undefined) throw new Error('bench config invalid');
  const ns = createNamespace();
  const out = new Map<string, string>();
  try {
    const base = systemExecutor();
    const exec: Executor = {
      run: (cmd, a, input) => base.run('ip', ['netns', 'exec', ns.name, cmd, ...a], input),
      interact: (cmd, a, onLine) => base.interact!('ip', ['netns', 'exec', ns.name, cmd, ...a], onLine),
    };
    const extra = [
      'add chain inet ub xguard',
      // The closed maps of the shape before (a pool that empties moved its listener there); unbound here.
      'add map inet ub closed4 { type ipv4_addr . inet_proto . inet_service : verdict; flags interval; }',
      'add chain inet ub xsel',
      'add chain inet ub xsel2',
      'add map inet ub xslots { type mark : mark; elements = { 1 : 1, 2 : 2 } }',
      'add map inet ub slots { type mark : mark; elements = { 899999 : 5 } }',
      // A service chain that jumps to its selector chain, then goes to pick: xsel2 is reachable from the base chains.
      `add chain inet ub xsvc { jump xsel2; goto pick; }`,
      'add map inet ub services4_ranges { type ipv4_addr . inet_proto . inet_service : verdict; flags interval; elements = { 203.0.113.252 . tcp . 1-2 : goto xsvc } }',
    ].join('\n');
    const a = performance.now();
    const load = spawnSync('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], {
      input: `${renderNftScript(plan(c.model)).text}${extra}\n`,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (load.status !== 0) throw new Error(`load failed: ${load.stderr}`);
    out.set('full load (nft -f)', ms(performance.now() - a));
    const session = nftSession(resolveHost(exec, {}))!;
    const all = forms(n).filter((f) => only === undefined || f.label.includes(only));
    const samples = new Map<string, number[]>(all.map((f) => [f.label, []]));
    const time = async (f: Form, r: number): Promise<void> => {
      const t = performance.now();
      const res = await session.run(f.line(r));
      const d = performance.now() - t;
      if (res === null || res.exitCode !== 0) throw new Error(`${f.label}: ${res?.stderr ?? 'no session'}`);
      samples.get(f.label)!.push(d);
    };
    await session.run('flush chain inet ub xguard'); // warm the session
    for (let r = 0; r < runs; r++) {
      for (const f of all) {
        const pair = PAIRS.find((p) => p[1] === f.label);
        if (pair !== undefined && !all.some((x) => x.label === pair[0])) continue;
        if (pair !== undefined) continue; // run after its first half below
        await time(f, r);
        const second = PAIRS.find((p) => p[0] === f.label);
        const undo = second === undefined ? undefined : all.find((x) => x.label === second[1]);
        if (undo !== undefined) await time(undo, r);
      }
    }
    for (const [label, xs] of samples) out.set(label, ms(median(xs)));
    await session.close();
    return out;
  } finally {
    ns.remove();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const why = kernelUnavailable();
  if (why !== undefined) {
    process.stderr.write(`update-forms bench: kernel part unavailable: ${why}\n`);
    process.exit(1);
  }
  const o = args(process.argv.slice(2));
  const figures: Map<string, string>[] = [];
  for (const n of o.sizes) figures.push(await measure(n, o.runs, o.only));
  const rows = [...figures[0]!.keys()].map((k) => [k, ...figures.map((f) => f.get(k) ?? 'n/a')]);
  process.stdout.write(
    `${table(['one transaction in nft -i, median ms', ...o.sizes.map((n) => `${n} services`)], rows)}\n`,
  );
}
