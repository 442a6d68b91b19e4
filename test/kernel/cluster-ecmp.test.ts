// Active/active: a router namespace running BIRD with multipath (merge paths on; fib_multipath_hash_policy=1 there, so
// ECMP hashes ports too), two balancer namespaces running BIRD with the configuration nftlb renders and nftlb health
// --watch, which announces the VIP while the node can serve it; three DSR backends on one segment with both nodes and
// the router. 200 long-lived connections from many client ports spread over both nodes. Then lb1 leaves and comes
// back in four ways (BIRD stopped and started; its health checks fail and pass; its links go down and up; nftlb
// health stops): after each, the share of connections that survive, the time until the router's route changed and the
// time until new connections all succeed are measured and reported (never asserted as deadlines). Every connection
// must keep its backend through either node, the one `nftlb which` names on both nodes.
import type { ExecutionContext } from 'ava';
import { kernelTest } from './support/kernel-test.js';
import {
  connPool,
  nftlbArgv,
  nftlbIn,
  nodeDir,
  put,
  requireTools,
  startDaemon,
  startServer,
  waitFor,
  withNet,
  type ConnPool,
  type Daemon,
  type Net,
  type PoolResult,
} from './support/cluster.js';
import { workDir } from './support/ops.js';

const VIP = '203.0.113.1';
const LBS = { lb1: '198.51.100.11', lb2: '198.51.100.12' } as const;
const BACKENDS = { b1: '198.51.100.21', b2: '198.51.100.22', b3: '198.51.100.23' } as const;
const CLIENTS = ['198.18.0.2', '198.18.0.3', '198.18.0.4', '198.18.0.5'];

const CONFIG = [
  'cluster:',
  '  mode: ecmp',
  '  bgp:',
  '    asn: 64512',
  '    peers: [{ address: 198.51.100.1, asn: 64513 }]',
  '    hold-time: 3',
  '  nodes:',
  `    - { name: lb1, address: ${LBS.lb1} }`,
  `    - { name: lb2, address: ${LBS.lb2} }`,
  'services:',
  '  - name: web',
  `    vip: ${VIP}`,
  '    port: 80',
  '    forwarding: dsr',
  '    interface: eth0',
  '    scheduler: maglev',
  '    hash: { fields: [saddr, sport], table-size: 1009 }',
  '    on-empty: drop',
  '    health: { type: tcp, interval: 0.5, timeout: 0.4, rise: 1, fall: 2 }',
  '    backends:',
  ...Object.values(BACKENDS).map((b) => `      - { address: ${b} }`),
  '',
].join('\n');

// The router's own BIRD: learns the VIP from both nodes and installs one route with a next hop per node.
const ROUTER_BIRD = [
  'router id 198.51.100.1;',
  'protocol device {',
  '}',
  'protocol kernel {',
  '\tmerge paths on;',
  '\tipv4 { import none; export all; };',
  '}',
  'template bgp lbs {',
  '\tlocal 198.51.100.1 as 64513;',
  '\thold time 3;',
  '\tkeepalive time 1;',
  '\tconnect retry time 1;',
  '\terror wait time 1, 5;',
  '\tipv4 { import all; export none; };',
  '}',
  `protocol bgp lb1 from lbs { neighbor ${LBS.lb1} as 64512; }`,
  `protocol bgp lb2 from lbs { neighbor ${LBS.lb2} as 64512; }`,
  '',
].join('\n');

async function topology(net: Net, config: string): Promise<void> {
  await net.ip('sw', ['link set lo up', 'link add br0 type bridge mcast_snooping 0', 'link set br0 up']);
  const port = (p: string): string[] => [
    'link set lo up',
    `link add eth0 type veth peer name ${p} netns ${net.ns.sw}`,
    'link set eth0 up',
  ];
  await net.ip('router', [
    ...port('pr'),
    'addr add 198.51.100.1/24 dev eth0',
    `link add rc0 type veth peer name c0 netns ${net.ns.client}`,
    'link set rc0 up',
    'addr add 198.18.0.1/24 dev rc0',
  ]);
  await net.ip('client', [
    'link set lo up',
    'link set c0 up',
    ...CLIENTS.map((a) => `addr add ${a}/24 dev c0`),
    'route add default via 198.18.0.1',
  ]);
  for (const [name, a] of Object.entries(LBS))
    await net.ip(name, [...port(`p${name}`), `addr add ${a}/24 dev eth0`, `addr add ${VIP}/32 dev lo`]);
  for (const [name, a] of Object.entries(BACKENDS))
    await net.ip(name, [...port(`p${name}`), `addr add ${a}/24 dev eth0`, 'route add default via 198.51.100.1']);
  await net.ip('sw', [
    ...['pr', ...Object.keys(LBS).map((n) => `p${n}`), ...Object.keys(BACKENDS).map((n) => `p${n}`)].flatMap((p) => [
      `link set ${p} master br0`,
      `link set ${p} up`,
    ]),
  ]);
  // Inside the router's namespace only: forwarding, and ECMP hashing the ports.
  await net.exec('router', [
    'sysctl',
    '-q',
    '-w',
    'net.ipv4.ip_forward=1',
    'net.ipv4.fib_multipath_hash_policy=1',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.eth0.rp_filter=0',
  ]);
  // Each backend with nftlb's own recipe (the VIP on lo, the ARP sysctls), and a server on the VIP and its address.
  for (const [name, a] of Object.entries(BACKENDS)) {
    const r = await nftlbIn(net, name, ['backend-setup', '-c', config, '--backend', a, '--interface', 'eth0']);
    if (r.exitCode !== 0) throw new Error(`backend-setup ${a}: ${r.stderr}`);
    for (const line of r.stdout.split('\n'))
      if (line !== '' && !line.startsWith('#') && line !== 'set -e') await net.exec(name, line.split(' '));
    await startServer(net, name, ['--tcp', `${VIP}:80`, '--tcp', `${a}:80`, '--identity', a], `server ${name}`);
  }
}

// The router's next hops for the VIP, sorted ([] when it has no route).
async function nexthops(net: Net): Promise<string[]> {
  const r = await net.exec('router', ['ip', 'route', 'show', `${VIP}/32`]);
  return [...r.stdout.matchAll(/via (\S+)/g)].map((m) => m[1]!).sort();
}

// The node the router sends each connection to (ip route get with the connection's ports: no traffic).
async function viaOf(net: Net, conns: readonly (readonly [string, number])[]): Promise<string[]> {
  const lines = conns.map(([a, p]) => `route get ${VIP} from ${a} iif rc0 ipproto tcp sport ${p} dport 80`);
  const r = await net.exec('router', ['ip', '-b', '-'], { input: `${lines.join('\n')}\n` });
  return [...r.stdout.matchAll(/via (\S+)/g)].map((m) => m[1]!);
}

/** One node's daemons and files. */
interface Node {
  readonly name: 'lb1' | 'lb2';
  readonly dir: string;
  readonly env: Record<string, string>;
  bird: Daemon;
  health: Daemon;
}

function startBird(net: Net, n: { name: string; dir: string }, conf: string): Daemon {
  return startDaemon(
    net,
    n.name,
    ['bird', '-f', '-c', conf, '-s', `${n.dir}/bird.ctl`, '-P', `${n.dir}/bird.pid`],
    `bird ${n.name}`,
  );
}

function startHealth(net: Net, n: { name: string; env: Record<string, string> }, config: string): Daemon {
  const env = Object.entries(n.env).map(([k, v]) => `${k}=${v}`);
  const [envBin, path, node, main] = nftlbArgv();
  return startDaemon(
    net,
    n.name,
    [envBin!, path!, ...env, node!, main!, 'health', '--watch', '-c', config],
    `health ${n.name}`,
  );
}

/** What one phase measured. */
interface Phase {
  readonly what: string;
  readonly routeMs: number;
  readonly newMs: number;
  readonly failedNew: number;
  readonly survived: number;
  readonly sameBackend: number;
  readonly total: number;
}

let nextPort = 50000;

// Runs `action` at t0, then measures: until the router's next hops are `expect`, until a burst of 10 new connections
// all succeed, and which of the held connections still answer from their backend.
async function phase(
  t: ExecutionContext,
  net: Net,
  pool: ConnPool,
  before: readonly PoolResult[],
  what: string,
  expect: readonly string[],
  action: () => Promise<void>,
  timeoutMs = 60000,
): Promise<Phase> {
  const t0 = Date.now();
  await action();
  // Both from t0 at once: the router's route, and bursts of 10 new connections (each given 1 s) until the route has
  // changed and a burst after that all succeeded. newMs: when the first burst began after which none failed (0 when
  // none ever did).
  let routeMs: number | undefined;
  const route = waitFor(
    `${what}: the router's next hops become ${expect.join(', ')}`,
    async () =>
      JSON.stringify(await nexthops(net)) === JSON.stringify([...expect].sort())
        ? (routeMs = Date.now() - t0)
        : undefined,
    { timeoutMs, intervalMs: 50 },
  );
  let failedNew = 0;
  let okSince: number | undefined = 0;
  const fresh = waitFor(
    `${what}: new connections succeed`,
    async () => {
      const settled = routeMs !== undefined;
      const began = Date.now() - t0;
      const first = nextPort;
      nextPort += 10;
      const r = await pool.burst(CLIENTS[0]!, 10, first);
      const failed = r.filter((x) => x.backend === null).length;
      failedNew += failed;
      if (failed > 0) okSince = undefined;
      else okSince ??= began;
      return settled && failed === 0 ? okSince : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
  const [, newMs] = await Promise.all([route, fresh]);
  const after = await pool.ping();
  const survived = after.filter((r) => r.backend !== null).length;
  const sameBackend = after.filter((r, i) => r.backend !== null && r.backend === before[i]?.backend).length;
  const p = { what, routeMs: routeMs ?? -1, newMs, failedNew, survived, sameBackend, total: before.length };
  t.log(
    `${what}: route changed after ${routeMs} ms; new connections: ${failedNew === 0 ? 'none unanswered' : `${failedNew} not answered within 1 s, all answered again from ${newMs} ms`}; ${survived}/${before.length} held connections survived, ${sameBackend} on their backend`,
  );
  const lost = after.filter((r) => r.backend === null).slice(0, 3);
  t.deepEqual(lost, [], `${what}: connections lost`);
  return p;
}

kernelTest('ecmp: two nodes behind a BGP router; connections survive nodes leaving and joining (DSR)', async (t) => {
  if (!(await requireTools(t, ['bird', 'birdc']))) return;
  const dir = workDir();
  const config = put(dir, 'nftlb.yaml', CONFIG);
  const names = ['sw', 'router', 'client', 'lb1', 'lb2', ...Object.keys(BACKENDS)];
  await withNet(names, dir, async (net) => {
    await topology(net, config);
    const routerDir = nodeDir(net, 'router');
    const routerConf = put(routerDir, 'bird.conf', ROUTER_BIRD);
    startDaemon(
      net,
      'router',
      ['bird', '-f', '-c', routerConf, '-s', `${routerDir}/bird.ctl`, '-P', `${routerDir}/bird.pid`],
      'bird router',
    );
    const nodes: Node[] = [];
    for (const name of ['lb1', 'lb2'] as const) {
      const d = nodeDir(net, name);
      const env = {
        NFTLB_NODE: name,
        NFTLB_CLUSTER_DIR: d,
        NFTLB_LOCK: `${d}/apply.lock`,
        NFTLB_STATE_DIR: `${d}/state`,
      };
      const rendered = await nftlbIn(net, name, ['render', '-f', 'bird', '-c', config], env);
      t.is(rendered.exitCode, 0, rendered.stderr);
      const conf = put(d, 'bird.conf', rendered.stdout);
      const parsed = await net.exec(name, ['bird', '-p', '-c', conf], { reject: false });
      t.is(parsed.exitCode, 0, `bird -p: ${parsed.stderr}`);
      const applied = await nftlbIn(net, name, ['apply', '-c', config], env);
      t.is(applied.exitCode, 0, applied.stderr);
      const n: Node = { name, dir: d, env, bird: startBird(net, { name, dir: d }, conf), health: undefined as never };
      n.health = startHealth(net, n, config);
      nodes.push(n);
    }
    const [lb1, lb2] = nodes as [Node, Node];
    const dump = (): string => [lb1.health.log(), lb2.health.log()].join('\n');
    try {
      const t0 = Date.now();
      await waitFor(
        'both nodes announce the VIP',
        async () => ((await nexthops(net)).length === 2 ? true : undefined),
        { timeoutMs: 90000 },
      );
      t.log(`both nodes announced the VIP ${Date.now() - t0} ms after BIRD and nftlb health started`);

      const conns = Array.from({ length: 200 }, (_, i): [string, number] => [
        CLIENTS[i % 4]!,
        20000 + Math.floor(i / 4) * 7,
      ]);
      const pool = connPool(net, 'client', { target: VIP, port: 80, conns, timeoutMs: 5000 });
      const opened = await pool.open();
      t.deepEqual(opened.filter((r) => r.backend === null).slice(0, 3), [], 'every connection opens');
      const via = await viaOf(net, conns);
      const share = { lb1: via.filter((v) => v === LBS.lb1).length, lb2: via.filter((v) => v === LBS.lb2).length };
      t.log(
        `200 connections: ${share.lb1} through lb1, ${share.lb2} through lb2; backends ${JSON.stringify(count(opened.map((r) => r.backend)))}`,
      );
      t.true(share.lb1 >= 20 && share.lb2 >= 20, `ECMP spreads the connections: ${JSON.stringify(share)}`);

      // nftlb which on either node names the backend every connection reached.
      for (const n of nodes) {
        const w = await nftlbIn(
          net,
          n.name,
          ['which', '-c', config, '--service', 'web', '--json', ...conns.map(([a, p]) => `${a}:${p}`)],
          n.env,
        );
        t.is(w.exitCode, 0, w.stderr);
        const answers = (JSON.parse(w.stdout) as { answers: { backend: string }[] }).answers.map((a) => a.backend);
        t.deepEqual(
          answers,
          opened.map((r) => r.backend),
          `nftlb which on ${n.name}`,
        );
      }
      // nftlb status on each node: its node, role and BGP session, and one config fingerprint on both.
      const prints: string[] = [];
      for (const n of nodes) {
        const st = await nftlbIn(net, n.name, ['status', '-c', config, '--json'], n.env);
        t.is(st.exitCode, 0, st.stderr);
        const c = (
          JSON.parse(st.stdout) as {
            cluster: { node: string; role: string; fingerprint: string; peers: { state: string }[] };
          }
        ).cluster;
        t.deepEqual([c.node, c.role, c.peers.map((p) => p.state)], [n.name, 'announcing', ['Established']]);
        prints.push(c.fingerprint);
        const prom = await nftlbIn(net, n.name, ['status', '-c', config, '--prometheus'], n.env);
        t.regex(
          prom.stdout,
          new RegExp(`^nftlb_cluster_vip_announced\\{table="nftlb",node="${n.name}",vip="${VIP}"\\} 1$`, 'm'),
        );
      }
      t.is(prints[0], prints[1]);
      const baseline = await pool.ping();
      t.deepEqual(
        baseline.map((r) => r.backend),
        opened.map((r) => r.backend),
      );

      const phases: Phase[] = [];
      const both = [LBS.lb1, LBS.lb2];
      const only2 = [LBS.lb2];
      const conf1 = `${lb1.dir}/bird.conf`;
      phases.push(await phase(t, net, pool, opened, 'lb1 withdraws (its BIRD stopped)', only2, () => lb1.bird.stop()));
      phases.push(
        await phase(t, net, pool, opened, 'lb1 joins again (BIRD started; nftlb health announces)', both, async () => {
          lb1.bird = startBird(net, lb1, conf1);
        }),
      );
      const block = [
        'table inet nftlbt_block {',
        '\tchain out {',
        '\t\ttype filter hook output priority 0; policy accept;',
        '\t\tip daddr 198.51.100.20-198.51.100.29 tcp dport 80 drop',
        '\t}',
        '}',
        '',
      ].join('\n');
      phases.push(
        await phase(
          t,
          net,
          pool,
          opened,
          "lb1's checks fail (its backends emptied; nftlb health withdraws)",
          only2,
          async () => {
            await net.exec('lb1', ['nft', '-f', '-'], { input: block });
          },
        ),
      );
      const withdrawn = await nftlbIn(net, 'lb1', ['status', '-c', config], lb1.env);
      t.regex(
        withdrawn.stdout,
        /^cluster ecmp: node lb1, withdrawn, announced 0\/1, BGP 1\/1 established, config [0-9a-f]{16}/m,
      );
      phases.push(
        await phase(t, net, pool, opened, "lb1's checks pass again", both, async () => {
          await net.exec('lb1', ['nft', 'delete', 'table', 'inet', 'nftlbt_block']);
        }),
      );
      phases.push(
        await phase(
          t,
          net,
          pool,
          opened,
          'lb1 dies (its link down; the router waits out the hold time)',
          only2,
          async () => {
            await net.exec('lb1', ['ip', 'link', 'set', 'eth0', 'down']);
          },
        ),
      );
      phases.push(
        await phase(t, net, pool, opened, 'lb1 comes back (link up)', both, async () => {
          await net.exec('lb1', ['ip', 'link', 'set', 'eth0', 'up']);
        }),
      );
      phases.push(
        await phase(t, net, pool, opened, 'lb1 drained (nftlb health stopped: it withdraws)', only2, () =>
          lb1.health.stop(),
        ),
      );
      for (const p of phases) t.is(p.sameBackend, p.total, `${p.what}: every connection kept its backend`);
      await pool.stop();
    } catch (e) {
      t.log(dump());
      throw e;
    }
  });
});

function count(xs: readonly (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x ?? 'error'] = (out[x ?? 'error'] ?? 0) + 1;
  return out;
}
