// The scheduler part of `make bench` (issue 16): new connections per second through nftlb's table beside one static
// DNAT rule on the same topology (client -> balancer -> backends; the backend namespace takes all of 198.18.0.0/15 as
// local, so 10,000 backends need one server), for each scheduler at 1 service x 10,000 backends and for one service of
// 50,000 (round robin, 4 backends each). Paired: in every round each shape runs right next to a run of the static rule
// (static first in even rounds, last in odd ones), and its ratio is the median of those pairs' ratios, so the machine's
// drift over the minutes the part takes cancels out of it. Each run is `seconds` long with a cap on connections. A
// benchmark: it prints, it asserts nothing.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { checkConfig } from '../../src/config/read.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { trackPid, untrackPid } from '../kernel/support/cleanup.js';
import { SYSTEM_ENV } from '../kernel/support/system-path.js';
import { withTopology, type Topology } from '../kernel/support/topology.js';
import { benchConfigJson } from './gen-config.js';
import { int, table } from './format.js';

const LOAD = fileURLToPath(new URL('./dsr-load.js', import.meta.url));
const BACKENDS = 10_000;
const BIG = 50_000;

/** One shape under test: the script loaded and the listener the client connects to. */
interface Shape {
  readonly name: string;
  readonly script: () => string;
  readonly port: number;
}

const STATIC = `table ip staticbench {}
delete table ip staticbench
table ip staticbench {
\tchain pre {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip daddr 203.0.113.1 tcp dport 80 dnat to 198.18.0.1:8080
\t}
\tchain post {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tct status dnat masquerade
\t}
}
`;

const dotted = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const BASE = (198 << 24) | (18 << 16);

// nftlb's script for one service on 203.0.113.1:80 with 10,000 backends under `scheduler` (extra keys merged in).
function oneService(scheduler: string, extra: Record<string, unknown> = {}, weights = false): string {
  const backends = Array.from({ length: BACKENDS }, (_, i) => ({
    address: dotted(BASE + 1 + i),
    port: 8080,
    ...(weights ? { weight: 1 + (i % 3) } : {}),
  }));
  const config = {
    table: 'nftlbbench',
    services: [{ name: 'big', vip: '203.0.113.1', port: 80, scheduler, ...extra, backends }],
  };
  return render(JSON.stringify(config));
}

function render(text: string): string {
  const c = checkConfig('bench.json', text);
  if (c.model === undefined) throw new Error(`bench config invalid: ${c.diagnostics[0]?.message ?? ''}`);
  return renderNftScript(plan(c.model)).text;
}

const SHAPES: readonly Shape[] = [
  { name: 'one static DNAT rule', script: () => STATIC, port: 80 },
  { name: `round-robin, 1 x ${int(BACKENDS)} backends`, script: () => oneService('round-robin'), port: 80 },
  {
    name: `round-robin weighted 1:2:3, 1 x ${int(BACKENDS)}`,
    script: () => oneService('round-robin', {}, true),
    port: 80,
  },
  { name: `random, 1 x ${int(BACKENDS)}`, script: () => oneService('random'), port: 80 },
  {
    name: `source-hash, 1 x ${int(BACKENDS)}`,
    script: () => oneService('source-hash', { hash: { fields: ['saddr', 'sport'] } }),
    port: 80,
  },
  {
    name: `maglev, 1 x ${int(BACKENDS)}`,
    script: () => oneService('maglev', { hash: { fields: ['saddr', 'sport'], 'table-size': 65537 } }),
    port: 80,
  },
  // Service 0 of the 50k config listens on 203.0.113.1:1000.
  { name: `round-robin, 1 of ${int(BIG)} services`, script: () => render(benchConfigJson(BIG)), port: 1000 },
];

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

// Starts the server in the backend namespace: every address of 198.18.0.0/15 is local there.
async function serve(topo: Topology): Promise<void> {
  const p = execa('ip', ['netns', 'exec', topo.backend, process.execPath, LOAD, 'serve', '0.0.0.0:8080'], {
    env: SYSTEM_ENV,
    stdin: 'pipe',
    reject: false,
    buffer: false,
  });
  trackPid(p.pid);
  topo.defer(async () => {
    if (p.pid !== undefined) process.kill(p.pid, 'SIGTERM');
    await p;
    untrackPid(p.pid);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('load server did not start')), 10_000);
    p.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** Connections per second of each shape (medians), its ratio to the static rule (the median of its pairs' ratios;
 *  1 for the static rule itself) and the spread of those ratios, by name. */
export type SchedulerFigures = Map<
  string,
  { cps: number; runs: number[]; failed: number; ratio: number; ratios: number[] }
>;

// Measures every shape beside the static rule in `runs` rounds (see above) and prints the table.
export async function schedulerSection(
  say: (s?: string) => void,
  o: { runs: number; seconds: number },
): Promise<SchedulerFigures> {
  say();
  say(
    `== Datapath: new connections/s through each scheduler beside one static DNAT rule, ${o.runs} rounds of pairs x ${o.seconds} s ==`,
  );
  return withTopology({ clients: 40 }, async (topo) => {
    await serve(topo);
    const scripts = SHAPES.map((s) => s.script());
    const runs = SHAPES.map(() => [] as number[]);
    const ratios = SHAPES.map(() => [] as number[]);
    const failed = SHAPES.map(() => 0);
    const measure = async (i: number): Promise<number> => {
      const s = SHAPES[i]!;
      await topo.exec(topo.lb, ['nft', 'flush', 'ruleset']);
      await topo.exec(topo.lb, ['nft', '-f', '-'], { input: scripts[i]!, timeoutMs: 120_000 });
      const spec = {
        target: topo.vip4,
        port: s.port,
        sources: topo.clientV4,
        concurrency: 64,
        seconds: o.seconds,
        max: 200_000,
      };
      const c = await topo.exec(topo.client, [process.execPath, LOAD, 'conns', JSON.stringify(spec)], {
        timeoutMs: (o.seconds + 30) * 1000,
      });
      const out = JSON.parse(c.stdout) as { connections: number; failed: number; ms: number };
      const cps = (out.connections * 1000) / out.ms;
      runs[i]!.push(cps);
      failed[i]! += out.failed;
      return cps;
    };
    for (let r = 0; r < o.runs; r++) {
      for (let i = 1; i < SHAPES.length; i++) {
        const staticFirst = r % 2 === 0;
        const a = staticFirst ? await measure(0) : undefined;
        const x = await measure(i);
        const b = staticFirst ? a! : await measure(0);
        ratios[i]!.push(x / b);
      }
    }
    await topo.exec(topo.lb, ['nft', 'flush', 'ruleset']);
    const figures: SchedulerFigures = new Map();
    SHAPES.forEach((s, i) =>
      figures.set(s.name, {
        cps: median(runs[i]!),
        runs: runs[i]!,
        failed: failed[i]!,
        ratio: i === 0 ? 1 : median(ratios[i]!),
        ratios: ratios[i]!,
      }),
    );
    const x = (v: number): string => `${v.toFixed(2)}x`;
    say(
      table(
        ['shape', 'new conns/s (median)', '/ static (median of pairs)', 'pairs: lowest-highest', 'failed'],
        SHAPES.map((s, i) => {
          const f = figures.get(s.name)!;
          const spread = i === 0 ? '' : `${x(Math.min(...f.ratios))}-${x(Math.max(...f.ratios))}`;
          return [s.name, int(Math.round(f.cps)), x(f.ratio), spread, String(f.failed)];
        }),
      ),
    );
    say(
      'One node client (64 connections in flight from 40 addresses: connect, read a line, reset) and one node server;',
    );
    say('they share the 2 vCPUs with the balancer, so the ratio says how much the table costs a new connection beside');
    say('one static rule; each pair is a run of the shape next to one of the static rule, and the spread of the pairs');
    say('shows how far one run moves from the next on this machine. Target (issue 16): >= 0.97x.');
    return figures;
  });
}
