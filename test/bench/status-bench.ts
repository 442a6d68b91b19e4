import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../src/config/read.js';
import { renderNftScript } from '../../src/nft/script.js';
import type { TableRef } from '../../src/nft/ast.js';
import { serviceChain } from '../../src/nft/names.js';
import { OVERRIDES_VERSION, overridesFile } from '../../src/health/overrides.js';
import { hasDsr } from '../../src/plan/forwarding.js';
import { backendKey, plan } from '../../src/plan/plan.js';
import type { Override, Plan } from '../../src/plan/types.js';
import { int, mb, ms, table } from './format.js';
import { BACKEND_PORT, benchConfigJson, benchConfigYaml, benchServices } from './gen-config.js';
import { createNamespace, kernelUnavailable } from './netns.js';
import { runSync, runTimed, type TimedRun } from './run-timed.js';

// `node dist/test/bench/status-bench.js [--size 10000] [--conns 2] [--runs 3] [--format yaml|json] [--mix]
// [--dsr-scheduler source-hash|maglev] [--synthetic]`: times the bundled `nftlb status --prometheus`, `status --json` and the table on a config of SIZE
// services x 4 backends, against an nft and a conntrack that print prepared output (so the time is nftlb's own, not the
// tools'): the live tables' listings as the real nft prints them for that config (loaded once into a private network
// namespace; --synthetic, or without root, a listing made here with one counter rule per service chain) and CONNS
// conntrack entries per NAT backend (accounting on, plus as many entries with a mark that is not nftlb's). --mix: every
// fourth service DSR (source-hash, or maglev with its default 4093-slot table: 10M map elements at 10k services that
// planning and rendering the fingerprint cost status, as they cost apply; its chains in the netdev table, no
// conntrack entries), every fourth with persistence (the live
// maps hold PERSIST_PER_BACKEND entries per backend of theirs), and an override (drain) on one backend of every tenth
// service, so every field of the status is there. Prints wall and CPU time (user + system of nftlb and the `cat` of
// its fake tools), the output size and the number of samples. A benchmark, not a test: it asserts nothing.

const RUN_TIMEOUT_MS = 120_000;

interface Options {
  size: number;
  conns: number;
  runs: number;
  synthetic: boolean;
  format: 'yaml' | 'json';
  mix: boolean;
  dsrScheduler: 'source-hash' | 'maglev';
}

/** --mix: persistence entries in the live maps per backend of a service with persistence. */
const PERSIST_PER_BACKEND = 2;
/** --mix: the interface of the DSR services (a dummy one in the namespace the listings come from). */
const DSR_INTERFACE = 'nftlbb0';

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    size: 10_000,
    conns: 2,
    runs: 3,
    synthetic: false,
    format: 'yaml',
    mix: false,
    dsrScheduler: 'source-hash',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const count = (max: number): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`${String(a)}: expected an integer 0..${max}`);
      return n;
    };
    if (a === '--size') o.size = Math.max(1, count(100_000));
    else if (a === '--conns') o.conns = count(100);
    else if (a === '--runs') o.runs = Math.max(1, count(20));
    else if (a === '--synthetic') o.synthetic = true;
    else if (a === '--mix') o.mix = true;
    else if (a === '--dsr-scheduler') {
      const v = argv[++i];
      if (v !== 'source-hash' && v !== 'maglev') throw new Error('--dsr-scheduler: expected source-hash or maglev');
      o.dsrScheduler = v;
    } else if (a === '--format') {
      const f = argv[++i];
      if (f !== 'yaml' && f !== 'json') throw new Error('--format: expected yaml or json');
      o.format = f;
    } else throw new Error(`unknown argument ${String(a)}`);
  }
  return o;
}

const say = (s = ''): void => void process.stdout.write(`${s}\n`);

// What kind of service i is in a --mix config.
const kindOf = (i: number, mix: boolean): 'nat' | 'dsr' | 'persistence' =>
  !mix ? 'nat' : i % 4 === 1 ? 'dsr' : i % 4 === 2 ? 'persistence' : 'nat';

// The --mix config (YAML or JSON): the services of gen-config, every fourth DSR (`scheduler`, backends on the service's
// port), every fourth with persistence (the defaults).
function mixedConfig(n: number, format: 'yaml' | 'json', scheduler: string): string {
  const services = benchServices(n).map((s, i) => {
    const kind = kindOf(i, true);
    return {
      name: s.name,
      vip: s.vip,
      port: s.port,
      ...(kind === 'dsr' ? { forwarding: 'dsr', interface: DSR_INTERFACE, scheduler } : {}),
      ...(kind === 'persistence' ? { persistence: {} } : {}),
      backends: s.backends.map((address) => (kind === 'dsr' ? { address } : { address, port: BACKEND_PORT })),
    };
  });
  if (format === 'json') return `${JSON.stringify({ table: 'nftlbbench', services }, null, 2)}\n`;
  const out: string[] = ['table: nftlbbench', 'services:'];
  for (const s of services) {
    out.push(`  - name: ${s.name}`, `    vip: ${s.vip}`, `    port: ${s.port}`);
    if ('forwarding' in s)
      out.push(`    forwarding: dsr`, `    interface: ${DSR_INTERFACE}`, `    scheduler: ${scheduler}`);
    if ('persistence' in s) out.push('    persistence: {}');
    out.push('    backends:');
    for (const b of s.backends)
      out.push(`      - address: ${b.address}`, ...('port' in b ? [`        port: ${b.port}`] : []));
  }
  out.push('');
  return out.join('\n');
}

// --mix: an override (drain) on the second backend of every tenth service, as `nftlb backend drain` writes them.
function mixedOverrides(p: Plan): { file: object; lookup: Map<string, Override> } {
  const lookup = new Map<string, Override>();
  const backends: Record<string, { state: Override; since: string }> = {};
  p.services.forEach((s, i) => {
    if (i % 10 !== 0 || s.backends[1] === undefined) return;
    const key = backendKey(s.name, s.backends[1].endpoint);
    lookup.set(key, 'drain');
    backends[key] = { state: 'drain', since: '2025-01-01T00:00:00.000Z' };
  });
  return { file: { version: OVERRIDES_VERSION, table: p.table, backends }, lookup };
}

// --mix: the persistence entries of the live maps, as one add element command (clients of 198.19.0.0/16).
function persistenceEntries(p: Plan): string {
  const items: string[] = [];
  const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
  let n = 0;
  for (const s of p.services) {
    if (s.persistence === undefined) continue;
    for (const b of s.backends)
      for (let k = 0; k < PERSIST_PER_BACKEND; k++, n++)
        items.push(`${hex(s.persistence.mark)} . 198.19.${(n >> 8) & 255}.${n & 255} timeout 3600s : ${hex(b.tag!)}`);
  }
  return items.length === 0 ? '' : `add element inet ${p.table} persist4 { ${items.join(', ')} }\n`;
}

// conntrack -L lines: `per` established TCP connections to each NAT backend, marked with its id, with byte counts; and
// as many again marked with an id but addressed elsewhere (another tool's mark), which status must not count. DSR
// services have none (the balancer keeps no state for them).
function conntrackLines(n: number, per: number, mix: boolean): string {
  const out: string[] = [];
  let id = 0;
  for (const [i, s] of benchServices(n).entries())
    for (const b of s.backends) {
      id++;
      if (kindOf(i, mix) === 'dsr') continue;
      for (let k = 0; k < per; k++) {
        const sport = 10_000 + k;
        out.push(
          `tcp      6 431999 ESTABLISHED src=203.0.113.200 dst=${s.vip} sport=${sport} dport=${s.port} packets=5 bytes=300 src=${b} dst=198.51.100.1 sport=${BACKEND_PORT} dport=${sport} packets=4 bytes=700 [ASSURED] mark=${id} use=1`,
          `tcp      6 299 ESTABLISHED src=198.51.100.9 dst=198.51.100.10 sport=${sport} dport=22 packets=1 bytes=60 src=198.51.100.10 dst=198.51.100.9 sport=22 dport=${sport} packets=1 bytes=60 mark=${id} use=1`,
        );
      }
    }
  return `${out.join('\n')}\n`;
}

/** What nft lists for one of nftlb's tables: `-t list table` (the fingerprint comment) and `-j list table`. */
interface Listing {
  readonly table: TableRef;
  readonly text: string;
  readonly json: string;
}

// The listings nft prints for the loaded tables (the inet one, and the netdev one of DSR services), after `extra`
// (persistence entries) was added.
function realListings(p: Plan, script: string, extra: string): Listing[] | string {
  const why = kernelUnavailable();
  if (why !== undefined) return why;
  const ns = createNamespace();
  try {
    if (hasDsr(p)) {
      const [c, ...a] = ns.exec(
        'ip',
        'link',
        'add',
        DSR_INTERFACE,
        'type',
        'veth',
        'peer',
        'name',
        `${DSR_INTERFACE}p`,
      );
      const made = runSync(c!, a, RUN_TIMEOUT_MS);
      if (made.code !== 0) return `ip link add ${DSR_INTERFACE} failed: ${made.stderr.trim()}`;
    }
    const [cmd, ...args] = ns.exec('nft', '-f', '-');
    const dir = mkdtempSync(join(tmpdir(), 'nftlb-status-bench-'));
    try {
      const file = join(dir, 'script.nft');
      writeFileSync(file, `${script}${extra}`);
      const load = runSync(cmd!, [...args.slice(0, -1), file], RUN_TIMEOUT_MS);
      if (load.code !== 0) return `nft -f failed: ${load.stderr.trim()}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const list = (t: TableRef, ...a: string[]): string => {
      const [c, ...rest] = ns.exec('nft', ...a, 'list', 'table', t.family, t.name);
      const r = spawnText(c!, rest);
      if (r === null) throw new Error(`nft ${a.join(' ')} list table ${t.family} ${t.name} failed`);
      return r;
    };
    return renderNftScript(p).tables.map((t) => ({ table: t, text: list(t, '-t'), json: list(t, '-j') }));
  } finally {
    ns.remove();
  }
}

// stdout of a short command, or null when it fails.
function spawnText(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, timeout: RUN_TIMEOUT_MS });
  return r.status === 0 ? r.stdout : null;
}

// Listings with what status reads: the fingerprint comment, and one counter rule per service chain (in the netdev
// table for DSR services); no map elements.
function syntheticListings(p: Plan, fingerprint: string): Listing[] {
  return renderNftScript(p).tables.map((table) => {
    const text = `table ${table.family} ${table.name} {\n\tcomment "nftlb fingerprint ${fingerprint}"\n}\n`;
    const items: unknown[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }];
    let i = 0;
    for (const s of p.services) {
      if ((s.dsr !== undefined) !== (table.family === 'netdev')) continue;
      for (const pool of s.pools)
        items.push({
          rule: {
            family: table.family,
            table: table.name,
            chain: serviceChain(s.name, pool.family),
            handle: ++i,
            expr: [{ counter: { packets: i % 97, bytes: (i % 97) * 60 } }, { goto: { target: 'pick' } }],
          },
        });
    }
    return { table, text, json: JSON.stringify({ nftables: items }) };
  });
}

interface Row {
  readonly what: string;
  readonly runs: TimedRun[];
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  say(
    `nftlb status benchmark: node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, ${new Date().toISOString()}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-status-bench-'));
  try {
    const configText = o.mix
      ? mixedConfig(o.size, o.format, o.dsrScheduler)
      : o.format === 'json'
        ? benchConfigJson(o.size)
        : benchConfigYaml(o.size);
    const config = join(dir, `bench.${o.format}`);
    writeFileSync(config, configText);
    const checked = checkConfig(config, configText);
    if (checked.model === undefined) throw new Error('generated config is invalid');
    // The table as `nftlb backend drain` leaves it: planned with the overrides, which status reads from their file.
    const overrides = o.mix ? mixedOverrides(plan(checked.model)) : undefined;
    if (overrides !== undefined) writeFileSync(overridesFile(dir, checked.model.table), JSON.stringify(overrides.file));
    const p = plan(
      checked.model,
      overrides === undefined ? undefined : { health: new Map(), override: overrides.lookup },
    );
    const script = renderNftScript(p);
    const real = o.synthetic ? 'disabled with --synthetic' : realListings(p, script.text, persistenceEntries(p));
    const listings = typeof real === 'string' ? syntheticListings(p, script.fingerprint) : real;
    say(
      typeof real === 'string'
        ? `!!! nft listings are SYNTHETIC (${real}): one counter rule per service chain, no map elements !!!`
        : `nft listings: the real nft's, of the tables loaded once into a private namespace (deleted again)`,
    );
    const cases: string[] = [];
    listings.forEach((l, i) => {
      writeFileSync(join(dir, `list${i}.txt`), l.text);
      writeFileSync(join(dir, `list${i}.json`), l.json);
      const t = `table ${l.table.family} ${l.table.name}`;
      cases.push(
        `  "-t list ${t}") exec cat ${dir}/list${i}.txt ;;`,
        `  "-j list ${t}") exec cat ${dir}/list${i}.json ;;`,
      );
    });
    // nftlb's other table (the netdev one without DSR services) is not there.
    cases.push('  "-t list table "*) echo "Error: No such file or directory" >&2; exit 1 ;;');
    writeFileSync(join(dir, 'ct4.txt'), conntrackLines(o.size, o.conns, o.mix));
    const nft = join(dir, 'nft');
    writeFileSync(
      nft,
      `#!/bin/sh\ncase "$*" in\n${cases.join('\n')}\nesac\necho "bench nft: unexpected $*" >&2\nexit 1\n`,
    );
    const conntrack = join(dir, 'conntrack');
    writeFileSync(
      conntrack,
      `#!/bin/sh\ncase "$*" in\n  "-L -f ipv4") exec cat ${dir}/ct4.txt ;;\n  "-L -f ipv6") exit 0 ;;\nesac\necho "bench conntrack: unexpected $*" >&2\nexit 1\n`,
    );
    chmodSync(nft, 0o755);
    chmodSync(conntrack, 0o755);
    const nat = benchServices(o.size).filter((_, i) => kindOf(i, o.mix) !== 'dsr').length;
    const json = listings.reduce((n, l) => n + l.json.length, 0);
    say(
      `config: ${int(o.size)} services x 4 backends (${mb(configText.length / 2 ** 20)} MB ${o.format.toUpperCase()}); nft -j listings ${mb(json / 2 ** 20)} MB; conntrack: ${int(nat * 4 * o.conns * 2)} entries (half of them another tool's marks)`,
    );
    if (o.mix) {
      const count = (k: string): number => benchServices(o.size).filter((_, i) => kindOf(i, true) === k).length;
      say(
        `mix: ${int(count('dsr'))} DSR services (${o.dsrScheduler}), ${int(count('persistence'))} with persistence (${int(count('persistence') * 4 * PERSIST_PER_BACKEND)} live entries${typeof real === 'string' ? ', not in a synthetic listing' : ''}), ${int(overrides!.lookup.size)} backends drained by an override`,
      );
    }
    const nftlb = fileURLToPath(new URL('../../nftlb.mjs', import.meta.url));
    const env = {
      ...process.env,
      NFTLB_NFT: nft,
      NFTLB_CONNTRACK: conntrack,
      NFTLB_STATE_DIR: dir,
    };
    const rows: Row[] = [];
    for (const args of [['--prometheus'], ['--json'], []]) {
      const row: Row = { what: `nftlb status ${args.join(' ')}`.trim(), runs: [] };
      for (let i = 0; i < o.runs; i++) {
        const r = await runTimed(process.execPath, [nftlb, 'status', '-c', config, ...args], '', RUN_TIMEOUT_MS, env);
        if (r.code !== 0) throw new Error(`${row.what} exited ${String(r.code)}: ${r.stderr.trim().slice(0, 500)}`);
        row.runs.push(r);
      }
      rows.push(row);
    }
    // Status read the live tables only when they match the config: say so, since a mismatch would skip their figures.
    const live = (JSON.parse(rows[1]!.runs[0]!.stdout) as { live: string }).live;
    say(`live tables: ${live}${live === 'matches' ? '' : ' (!!! counters and persistence entries were not read !!!)'}`);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    say(
      table(
        ['command', 'runs', 'wall ms (median)', 'cpu ms (median)', 'cpu ms (all)', 'output MB', 'samples / lines'],
        rows.map((r) => {
          const out = r.runs[0]!.stdout;
          const samples = out.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
          return [
            r.what,
            String(r.runs.length),
            ms(median(r.runs.map((x) => x.ms))),
            ms(median(r.runs.map((x) => x.cpuMs ?? NaN))),
            r.runs.map((x) => ms(x.cpuMs ?? NaN)).join(' '),
            mb(Buffer.byteLength(out) / 2 ** 20),
            int(samples),
          ];
        }),
      ),
    );
    say(
      'cpu = user + system time of the nftlb process and its children (the fake nft and conntrack only `cat` a file);',
    );
    say('wall includes node start-up and waiting for a busy machine. Output goes to a pipe read by this process.');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`status bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
