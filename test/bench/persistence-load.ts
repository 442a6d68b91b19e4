import { spawnSync } from 'node:child_process';
import { checkConfig } from '../../src/config/read.js';
import { reloadInPlace } from '../../src/nft/in-place.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { benchConfigJson } from './gen-config.js';
import { timeLoads, type LoadTiming } from './kernel-load.js';
import type { BenchNamespace } from './netns.js';
import { runTimed } from './run-timed.js';

// The kernel part for persistence (README.md, Persistence): the same services with `persistence: {}` on every one,
// loaded fresh and reloaded, and the reload nftlb apply sends when the live table holds entries: emptied in place
// (flush, delete all but the entry maps, redeclare) over a table holding ENTRIES entries, which must all survive.

/** Entries put in the map before the in-place reloads (ten clients for each of the first services). */
export const ENTRIES = 100_000;
const NFT_TIMEOUT_MS = 60_000;

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

// Runs a command in the namespace and returns its stdout (setup, not timed).
function capture(ns: BenchNamespace, args: string[], input?: string): string {
  const [cmd, ...rest] = ns.exec('nft', ...args);
  const r = spawnSync(cmd!, rest, { encoding: 'utf8', input, timeout: NFT_TIMEOUT_MS, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')} failed: ${(r.stderr ?? r.error?.message ?? '').trim()}`);
  return r.stdout;
}

// ENTRIES entries for the plan's services with persistence, as one add element command.
function fill(p: Plan): string {
  const items: string[] = [];
  const services = p.services.filter((s) => s.persistence !== undefined);
  for (let i = 0; i < ENTRIES; i++) {
    const s = services[Math.floor(i / 10) % services.length]!;
    const b = s.backends[i % s.backends.length]!;
    const client = `198.19.${(i >> 8) & 255}.${i & 255}`;
    items.push(`${hex(s.persistence!.mark)} . ${client} timeout 3600s : ${hex(b.tag!)}`);
  }
  return `add element inet ${p.table} persist4 { ${items.join(', ')} }\n`;
}

const entryCount = (ns: BenchNamespace, table: string): number =>
  (capture(ns, ['list', 'map', 'inet', table, 'persist4']).match(/ : 0x/g) ?? []).length;

// Times loads of the persistence config: fresh, whole reload over itself, and in place over a table with entries.
export async function persistenceLoads(
  ns: BenchNamespace,
  size: number,
  runs: number,
): Promise<{ timings: LoadTiming[]; kept: string }> {
  const checked = checkConfig('bench-persistence.json', benchConfigJson(size, { persistence: true }));
  if (checked.model === undefined) throw new Error('generated persistence config is invalid');
  const p = plan(checked.model);
  const script = renderNftScript(p).text;
  const timings: LoadTiming[] = [];
  timings.push(await timeLoads(ns, 'persistence on every service: nft -f, fresh load', script, 'fresh', runs));
  timings.push(await timeLoads(ns, 'persistence: nft -f, whole reload (drops entries)', script, 'reload', runs));
  // In place: the script nftlb apply builds from the live listing, over a table with ENTRIES entries.
  capture(ns, ['flush', 'ruleset']);
  capture(ns, ['-f', '-'], script);
  capture(ns, ['-f', '-'], fill(p));
  const before = entryCount(ns, p.table);
  const times: number[] = [];
  const cpu: number[] = [];
  let error: string | undefined;
  for (let i = 0; i < runs && error === undefined; i++) {
    const listing = capture(ns, ['-t', 'list', 'table', 'inet', p.table]);
    const inPlace = reloadInPlace(p, listing);
    if (inPlace === undefined) {
      error = 'the live table is not one nftlb reloads in place';
      break;
    }
    const [cmd, ...args] = ns.exec('nft', '-f', '-');
    const r = await runTimed(cmd!, args, renderNftScript(p, inPlace).text, NFT_TIMEOUT_MS);
    if (r.code !== 0) error = `nft exited ${String(r.code)}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`;
    else {
      times.push(r.ms);
      if (r.cpuMs !== undefined) cpu.push(r.cpuMs);
    }
  }
  const after = error === undefined ? entryCount(ns, p.table) : 0;
  capture(ns, ['flush', 'ruleset']);
  timings.push({
    label: `persistence: in place over ${ENTRIES.toLocaleString('en-US')} entries (apply)`,
    runs: times,
    cpu,
    error,
  });
  return { timings, kept: `entries before the in-place reloads ${before}, after ${after}` };
}
