import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../src/config/read.js';
import { renderNftScript } from '../../src/nft/script.js';
import { serviceChain } from '../../src/nft/names.js';
import { plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { int, mb, ms, table } from './format.js';
import { BACKEND_PORT, benchConfigJson, benchConfigYaml, benchServices } from './gen-config.js';
import { createNamespace, kernelUnavailable } from './netns.js';
import { runSync, runTimed, type TimedRun } from './run-timed.js';

// `node dist/test/bench/status-bench.js [--size 10000] [--conns 2] [--runs 3] [--format yaml|json] [--synthetic]`: times the bundled
// `nftlb status --prometheus` and `status --json` on a config of SIZE services x 4 backends, against an nft and a
// conntrack that print prepared output (so the time is nftlb's own, not the tools'): the live table's listings as the
// real nft prints them for that config (loaded once into a private network namespace; --synthetic, or without root,
// a listing made here with one counter rule per service chain) and CONNS conntrack entries per backend (accounting on,
// plus as many entries with a mark that is not nftlb's). Prints wall and CPU time (user + system of nftlb and the
// `cat` of its fake tools), the output size and the number of samples. A benchmark, not a test: it asserts nothing.

const RUN_TIMEOUT_MS = 120_000;

interface Options {
  size: number;
  conns: number;
  runs: number;
  synthetic: boolean;
  format: 'yaml' | 'json';
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { size: 10_000, conns: 2, runs: 3, synthetic: false, format: 'yaml' };
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
    else if (a === '--format') {
      const f = argv[++i];
      if (f !== 'yaml' && f !== 'json') throw new Error('--format: expected yaml or json');
      o.format = f;
    } else throw new Error(`unknown argument ${String(a)}`);
  }
  return o;
}

const say = (s = ''): void => void process.stdout.write(`${s}\n`);

// conntrack -L lines: `per` established TCP connections to each backend, marked with its id, with byte counts; and as
// many again marked with an id but addressed elsewhere (another tool's mark), which status must not count.
function conntrackLines(n: number, per: number): string {
  const out: string[] = [];
  let id = 0;
  for (const s of benchServices(n))
    for (const b of s.backends) {
      id++;
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

// The listings nft prints for the loaded table: `-t list table` (the fingerprint comment) and `-j list table`.
function realListings(p: Plan, script: string): { text: string; json: string } | string {
  const why = kernelUnavailable();
  if (why !== undefined) return why;
  const ns = createNamespace();
  try {
    const [cmd, ...args] = ns.exec('nft', '-f', '-');
    const dir = mkdtempSync(join(tmpdir(), 'nftlb-status-bench-'));
    try {
      const file = join(dir, 'script.nft');
      writeFileSync(file, script);
      const load = runSync(cmd!, [...args.slice(0, -1), file], RUN_TIMEOUT_MS);
      if (load.code !== 0) return `nft -f failed: ${load.stderr.trim()}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const list = (...a: string[]): string => {
      const [c, ...rest] = ns.exec('nft', ...a, 'list', 'table', 'inet', p.table);
      const r = spawnText(c!, rest);
      if (r === null) throw new Error(`nft ${a.join(' ')} list table failed`);
      return r;
    };
    return { text: list('-t'), json: list('-j') };
  } finally {
    ns.remove();
  }
}

// stdout of a short command, or null when it fails.
function spawnText(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, timeout: RUN_TIMEOUT_MS });
  return r.status === 0 ? r.stdout : null;
}

// A listing with what status reads: the fingerprint comment, and one counter rule per service chain.
function syntheticListings(p: Plan, fingerprint: string): { text: string; json: string } {
  const text = `table inet ${p.table} {\n\tcomment "nftlb fingerprint ${fingerprint}"\n}\n`;
  const items: unknown[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }];
  let i = 0;
  for (const s of p.services)
    for (const pool of s.pools)
      items.push({
        rule: {
          family: 'inet',
          table: p.table,
          chain: serviceChain(s.name, pool.family),
          handle: ++i,
          expr: [{ counter: { packets: i % 97, bytes: (i % 97) * 60 } }, { goto: { target: 'pick' } }],
        },
      });
  return { text, json: JSON.stringify({ nftables: items }) };
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
    const configText = o.format === 'json' ? benchConfigJson(o.size) : benchConfigYaml(o.size);
    const config = join(dir, `bench.${o.format}`);
    writeFileSync(config, configText);
    const checked = checkConfig(config, configText);
    if (checked.model === undefined) throw new Error('generated config is invalid');
    const p = plan(checked.model);
    const script = renderNftScript(p);
    const real = o.synthetic ? 'disabled with --synthetic' : realListings(p, script.text);
    const listings = typeof real === 'string' ? syntheticListings(p, script.fingerprint) : real;
    say(
      typeof real === 'string'
        ? `!!! nft listings are SYNTHETIC (${real}): one counter rule per service chain, no map elements !!!`
        : `nft listings: the real nft's, of the table loaded once into a private namespace (deleted again)`,
    );
    writeFileSync(join(dir, 'list.txt'), listings.text);
    writeFileSync(join(dir, 'list.json'), listings.json);
    writeFileSync(join(dir, 'ct4.txt'), conntrackLines(o.size, o.conns));
    const nft = join(dir, 'nft');
    writeFileSync(
      nft,
      `#!/bin/sh\ncase "$*" in\n  "-t list table inet ${p.table}") exec cat ${dir}/list.txt ;;\n  "-j list table inet ${p.table}") exec cat ${dir}/list.json ;;\nesac\necho "bench nft: unexpected $*" >&2\nexit 1\n`,
    );
    const conntrack = join(dir, 'conntrack');
    writeFileSync(
      conntrack,
      `#!/bin/sh\ncase "$*" in\n  "-L -f ipv4") exec cat ${dir}/ct4.txt ;;\n  "-L -f ipv6") exit 0 ;;\nesac\necho "bench conntrack: unexpected $*" >&2\nexit 1\n`,
    );
    chmodSync(nft, 0o755);
    chmodSync(conntrack, 0o755);
    say(
      `config: ${int(o.size)} services x 4 backends (${mb(configText.length / 2 ** 20)} MB ${o.format.toUpperCase()}); nft -j listing ${mb(listings.json.length / 2 ** 20)} MB; conntrack: ${int(o.size * 4 * o.conns * 2)} entries (half of them another tool's marks)`,
    );
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
