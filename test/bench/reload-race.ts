// `node dist/test/bench/reload-race.js [--runs 3] [--reloads 300]` (root): how many new connections a reload lets
// through without DNAT, for the two ways a script can replace nftlb's live table: whole (`delete table` and the table
// declared again, as `nftlb render | nft -f -` does) and in place (src/nft/in-place.ts, as `nftlb apply` and `nftlb
// health` do). In a private namespace: the VIP and three backend addresses on lo, one listener on :8080 (the backends)
// and :80 (the balancer's own stack, which a connection reaches only without DNAT) that answers with the address it was
// reached at, a client making connections 32 at a time, and `nft -f` of two configs' scripts alternated `reloads`
// times (the weights change, so every reload changes the slot maps). The forms alternate run by run. A measurement,
// not a test: it prints the counts and asserts nothing. Bounded: every run has a reload count, and the client stops
// when the reloads end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../../src/config/read.js';
import { reloadInPlace } from '../../src/nft/in-place.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { table } from './format.js';
import { createNamespace, kernelUnavailable, type BenchNamespace } from './netns.js';
import { benchOptions, countOption } from './args.js';

const ADDRESSES = ['203.0.113.1', '198.51.100.1', '198.51.100.2', '198.51.100.3'];

const config = (weights: readonly number[]): string =>
  [
    'services:',
    '  - name: web',
    '    vip: 203.0.113.1',
    '    port: 80',
    '    backends:',
    ...weights.map((w, i) => `      - { address: 198.51.100.${i + 1}, port: 8080, weight: ${w} }`),
    '',
  ].join('\n');

const SERVER = `import net from 'node:net';
for (const port of [8080, 80]) net.createServer((s) => { s.on('error', () => {}); s.end(s.localAddress + ':' + s.localPort); }).listen(port, '0.0.0.0');
setTimeout(() => process.exit(0), 3600_000);
`;

// Connects until the stop file appears (or 5,000,000 connections); prints the counts as JSON.
const CLIENT = `import net from 'node:net';
import { existsSync } from 'node:fs';
const [stop] = process.argv.slice(2);
const out = { ok: 0, noDnat: 0, failed: 0 };
const one = () => new Promise((done) => {
  const s = net.connect({ host: '203.0.113.1', port: 80 });
  let d = '';
  s.setTimeout(5000, () => { out.failed++; s.destroy(); done(); });
  s.on('data', (b) => (d += b));
  s.on('end', () => { if (d.startsWith('203.0.113.1:')) out.noDnat++; else out.ok++; s.destroy(); done(); });
  s.on('error', () => { out.failed++; done(); });
});
for (let n = 0; n < 5_000_000 && !existsSync(stop); n += 32) await Promise.all(Array.from({ length: 32 }, one));
console.log(JSON.stringify(out));
`;

interface Counts {
  ok: number;
  noDnat: number;
  failed: number;
}

function args(argv: readonly string[]): { runs: number; reloads: number } {
  const o = benchOptions(argv, ['runs', 'reloads']);
  return { runs: countOption('runs', o.runs, 3, 20), reloads: countOption('reloads', o.reloads, 300, 5000) };
}

const planOf = (weights: readonly number[]): Plan => {
  const m = checkConfig('race.yaml', config(weights)).model;
  if (m === undefined) throw new Error('bench config invalid');
  return plan(m);
};

// The table block of a render: what a listing of the loaded table reads like (declarations, then elements).
const listingOf = (p: Plan): string => {
  const t = renderNftScript(p).text;
  return t.slice(t.lastIndexOf('\ntable inet ') + 1);
};

function sh(ns: BenchNamespace, cmd: string, ...rest: string[]): void {
  const [c, ...a] = ns.exec(cmd, ...rest);
  const r = spawnSync(c!, a, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${rest.join(' ')}: ${r.stderr}`);
}

// One run: the first script loaded, then `reloads` times b and a, while the client connects.
async function run(
  ns: BenchNamespace,
  dir: string,
  scripts: readonly [string, string],
  reloads: number,
): Promise<Counts> {
  sh(ns, 'nft', 'flush', 'ruleset');
  sh(ns, 'nft', '-f', join(dir, 'first.nft'));
  const stop = join(dir, `stop-${Date.now()}`);
  const [c, ...a] = ns.exec(process.execPath, join(dir, 'client.mjs'), stop);
  const client = spawn(c!, a, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => client.on('close', () => resolve()));
  try {
    for (let i = 0; i < reloads; i++) for (const s of [scripts[1], scripts[0]]) sh(ns, 'nft', '-f', s);
  } finally {
    writeFileSync(stop, '');
  }
  await exited;
  return JSON.parse(out) as Counts;
}

async function main(): Promise<void> {
  const why = kernelUnavailable();
  if (why !== undefined) {
    process.stdout.write(`reload-race: skipped: ${why}\n`);
    return;
  }
  const o = args(process.argv.slice(2));
  const [pa, pb] = [planOf([1, 2, 3]), planOf([3, 2, 1])];
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-race-'));
  const ns = createNamespace();
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const file = (name: string, text: string): string => (writeFileSync(join(dir, name), text), join(dir, name));
    file('first.nft', renderNftScript(pa).text);
    file('server.mjs', SERVER);
    file('client.mjs', CLIENT);
    const forms: Record<string, [string, string]> = {
      whole: [file('whole-a.nft', renderNftScript(pa).text), file('whole-b.nft', renderNftScript(pb).text)],
      'in place': [
        file('inplace-a.nft', renderNftScript(pa, reloadInPlace(pa, listingOf(pb))).text),
        file('inplace-b.nft', renderNftScript(pb, reloadInPlace(pb, listingOf(pa))).text),
      ],
    };
    sh(ns, 'ip', 'link', 'set', 'lo', 'up');
    for (const addr of ADDRESSES) sh(ns, 'ip', 'addr', 'add', `${addr}/32`, 'dev', 'lo');
    const [c, ...a] = ns.exec(process.execPath, join(dir, 'server.mjs'));
    server = spawn(c!, a, { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    const rows: string[][] = [];
    const totals = new Map<string, Counts & { reloads: number }>();
    for (let i = 0; i < o.runs; i++)
      for (const [form, scripts] of Object.entries(forms)) {
        const r = await run(ns, dir, scripts, o.reloads);
        rows.push([form, String(i + 1), String(2 * o.reloads), String(r.ok), String(r.noDnat), String(r.failed)]);
        const t = totals.get(form) ?? { ok: 0, noDnat: 0, failed: 0, reloads: 0 };
        totals.set(form, {
          ok: t.ok + r.ok,
          noDnat: t.noDnat + r.noDnat,
          failed: t.failed + r.failed,
          reloads: t.reloads + 2 * o.reloads,
        });
      }
    for (const [form, t] of totals)
      rows.push([form, 'all', String(t.reloads), String(t.ok), String(t.noDnat), String(t.failed)]);
    process.stdout.write(
      `${table(['reload', 'run', 'reloads', 'connections DNATed', 'reached the balancer without DNAT', 'failed'], rows)}\n`,
    );
  } finally {
    if (server?.pid !== undefined) server.kill('SIGTERM');
    ns.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
