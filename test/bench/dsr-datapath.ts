// The datapath part of `make bench`: new connections per second and download bytes per second through a DSR service
// and through a masquerading NAT service of the same config, on the same topology (a client, the balancer and 3
// backends on one bridge; the kernel test's topology), measured alternately, as a ratio. Bounded: each measurement
// runs a fixed number of seconds with a cap on connections. A benchmark: it prints, it asserts nothing.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { trackPid, untrackPid } from '../kernel/support/cleanup.js';
import { setupDsrBackends, withDsrTopology, type DsrTopology } from '../kernel/support/dsr-topology.js';
import { loadYaml } from '../kernel/support/nftlb.js';
import { workDir, writeConfig } from '../kernel/support/ops.js';
import { SYSTEM_ENV } from '../kernel/support/system-path.js';
import { int, table } from './format.js';

const LOAD = fileURLToPath(new URL('./dsr-load.js', import.meta.url));
const DSR_VIP = '203.0.113.1';
const NAT_VIP = '203.0.113.5';

/** What was measured, per forwarding; medians over the runs. */
export interface DatapathFigures {
  readonly connPerSec: { dsr: number; nat: number } | undefined;
  readonly bytesPerSec: { dsr: number; nat: number } | undefined;
  /** Bytes the balancer's interface moved (received + sent) per byte the client downloaded. */
  readonly balancerShare: { dsr: number; nat: number } | undefined;
}

const config = (topo: DsrTopology): string => `
services:
  - name: dsr
    vip: ${DSR_VIP}
    port: [80, 81]
    forwarding: dsr
    interface: eth0
    scheduler: source-hash
    hash: { fields: [saddr, sport] }
    backends:
${topo.backends.map((b) => `      - { address: ${b.v4} }`).join('\n')}
  - name: nat
    vip: ${NAT_VIP}
    port: [80, 81]
    backends:
${topo.backends.map((b) => `      - { address: ${b.v4} }`).join('\n')}
`;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

// Starts the load server in one backend namespace (stopped by pid when the topology goes).
async function serve(topo: DsrTopology, ns: string, own: string): Promise<void> {
  const args = [DSR_VIP, own].flatMap((h) => [`${h}:80`, `${h}:81`]);
  const p = execa('ip', ['netns', 'exec', ns, process.execPath, LOAD, 'serve', ...args, '--bulk', '81'], {
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
    const timer = setTimeout(() => reject(new Error(`load server in ${ns} did not start`)), 10000);
    p.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

// Bytes received plus sent by the balancer's interface so far.
async function balancerBytes(topo: DsrTopology): Promise<number> {
  const r = await topo.exec(topo.lb, [
    'cat',
    '/sys/class/net/eth0/statistics/rx_bytes',
    '/sys/class/net/eth0/statistics/tx_bytes',
  ]);
  return r.stdout
    .trim()
    .split('\n')
    .reduce((a, x) => a + Number(x), 0);
}

// One run of the load client in the client namespace.
async function client<T>(topo: DsrTopology, mode: 'conns' | 'bulk', spec: object, seconds: number): Promise<T> {
  const r = await topo.exec(topo.client, [process.execPath, LOAD, mode, JSON.stringify(spec)], {
    timeoutMs: (seconds + 30) * 1000,
  });
  return JSON.parse(r.stdout) as T;
}

// Measures both services alternately, `runs` times each: connections for `seconds`, then downloads for `seconds`.
export async function datapathSection(
  say: (s?: string) => void,
  o: { runs: number; seconds: number },
): Promise<DatapathFigures> {
  say();
  say(
    `== Datapath: DSR beside masquerade on one topology (client, balancer, 3 backends on a bridge), ${o.runs} runs x ${o.seconds} s each ==`,
  );
  return withDsrTopology({ backends: 3, clients: 40, vips4: [DSR_VIP, NAT_VIP], vips6: [] }, async (topo) => {
    const dir = workDir();
    const file = writeConfig(dir, 'bench-dsr.yaml', config(topo));
    await setupDsrBackends(topo, file);
    await Promise.all(topo.backends.map((b) => serve(topo, b.ns, b.v4)));
    await loadYaml(topo, config(topo));
    const conn: Record<'dsr' | 'nat', number[]> = { dsr: [], nat: [] };
    const bulk: Record<'dsr' | 'nat', number[]> = { dsr: [], nat: [] };
    const failed: Record<'dsr' | 'nat', number> = { dsr: 0, nat: 0 };
    const share: Record<'dsr' | 'nat', number[]> = { dsr: [], nat: [] };
    const target = { dsr: DSR_VIP, nat: NAT_VIP };
    for (let run = 0; run < o.runs; run++) {
      for (const k of ['dsr', 'nat'] as const) {
        const c = await client<{ connections: number; failed: number; ms: number }>(
          topo,
          'conns',
          { target: target[k], port: 80, sources: topo.clientV4, concurrency: 64, seconds: o.seconds, max: 200_000 },
          o.seconds,
        );
        conn[k].push((c.connections * 1000) / c.ms);
        failed[k] += c.failed;
        const before = await balancerBytes(topo);
        const b = await client<{ bytes: number; ms: number }>(
          topo,
          'bulk',
          { target: target[k], port: 81, sources: topo.clientV4, concurrency: 6, seconds: o.seconds },
          o.seconds,
        );
        bulk[k].push((b.bytes * 1000) / b.ms);
        share[k].push(((await balancerBytes(topo)) - before) / b.bytes);
      }
    }
    const cps = { dsr: median(conn.dsr), nat: median(conn.nat) };
    const bps = { dsr: median(bulk.dsr), nat: median(bulk.nat) };
    const mbs = (x: number): string => (x / 2 ** 20).toFixed(0);
    const sh = { dsr: median(share.dsr), nat: median(share.nat) };
    const f3 = (x: number): string => (x < 0.01 ? x.toFixed(5) : x.toFixed(3));
    say(
      table(
        ['what (median)', 'DSR', 'masquerade', 'DSR / masquerade', 'all runs DSR', 'all runs masquerade'],
        [
          [
            'new connections/s',
            int(Math.round(cps.dsr)),
            int(Math.round(cps.nat)),
            `${(cps.dsr / cps.nat).toFixed(2)}x`,
            conn.dsr.map((x) => int(Math.round(x))).join(' '),
            conn.nat.map((x) => int(Math.round(x))).join(' '),
          ],
          [
            'download MB/s',
            mbs(bps.dsr),
            mbs(bps.nat),
            `${(bps.dsr / bps.nat).toFixed(2)}x`,
            bulk.dsr.map(mbs).join(' '),
            bulk.nat.map(mbs).join(' '),
          ],
          [
            'balancer bytes per byte downloaded',
            f3(sh.dsr),
            f3(sh.nat),
            `${(sh.dsr / sh.nat).toPrecision(2)}x`,
            share.dsr.map(f3).join(' '),
            share.nat.map(f3).join(' '),
          ],
        ],
      ),
    );
    say(
      `failed connections: DSR ${failed.dsr}, masquerade ${failed.nat}. One node client (64 connections in flight, 40`,
    );
    say(
      'source addresses; connect, read one line, reset) and 6 parallel downloads from 64 KiB writes; backends are node',
    );
    say(
      "servers. Everything shares the machine's CPUs, so the figures include the client and the servers; the ratio shows",
    );
    say(
      "what taking the replies (and conntrack, NAT) off the balancer's path is worth on this machine. The last row: what",
    );
    say(
      "the balancer's interface received and sent during the downloads, per byte the client got (DSR: the clients' ACKs).",
    );
    return { connPerSec: cps, bytesPerSec: bps, balancerShare: sh };
  });
}
