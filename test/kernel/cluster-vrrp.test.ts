// Active/passive: two balancer namespaces running keepalived and conntrackd with the configurations nftlb renders, the
// same nftlb table on both (masquerade becomes source NAT to the floating backend-side address). Established TCP
// connections through the master keep working after it dies (its daemons killed, its links down) and after it comes
// back and takes over again; new connections succeed again within a measured time (reported, never asserted as a
// deadline). The VRRP state is read from the role file nftlb cluster notify writes when keepalived calls it.
import type { ExecutionContext } from 'ava';
import { readFileSync, rmSync } from 'node:fs';
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
const FLOATING = '198.51.100.254';
const CLIENT = '203.0.113.10';
const LBS = {
  lb1: { front: '203.0.113.2', back: '198.51.100.11', sync: '198.18.3.1', priority: 150 },
  lb2: { front: '203.0.113.3', back: '198.51.100.12', sync: '198.18.3.2', priority: 100 },
} as const;
const BACKENDS = { b1: '198.51.100.21', b2: '198.51.100.22' } as const;
type LbName = keyof typeof LBS;

const CONFIG = [
  'cluster:',
  '  mode: vrrp',
  '  vrrp:',
  '    id: 51',
  '    interface: eth0',
  '    backend-interface: eth1',
  `    snat: ${FLOATING}`,
  '    sync-interface: eth2',
  '    preempt-delay: 3',
  '  nodes:',
  ...Object.entries(LBS).map(([n, l]) => `    - { name: ${n}, priority: ${l.priority}, sync-address: ${l.sync} }`),
  'services:',
  '  - name: web',
  `    vip: ${VIP}`,
  '    port: 80',
  '    backends:',
  ...Object.values(BACKENDS).map((b) => `      - { address: ${b}, port: 8080 }`),
  '',
].join('\n');

async function topology(net: Net): Promise<void> {
  for (const sw of ['front', 'back'])
    await net.ip(sw, ['link set lo up', 'link add br0 type bridge mcast_snooping 0', 'link set br0 up']);
  const port = (dev: string, sw: string, p: string): string[] => [
    `link add ${dev} type veth peer name ${p} netns ${net.ns[sw]}`,
    `link set ${dev} up`,
  ];
  await net.ip('client', ['link set lo up', ...port('eth0', 'front', 'pc'), `addr add ${CLIENT}/24 dev eth0`]);
  for (const [name, l] of Object.entries(LBS))
    await net.ip(name, [
      'link set lo up',
      ...port('eth0', 'front', `p${name}`),
      ...port('eth1', 'back', `p${name}`),
      `addr add ${l.front}/24 dev eth0`,
      `addr add ${l.back}/24 dev eth1`,
    ]);
  // The sync link: a veth pair between the two nodes.
  await net.ip('lb1', [
    `link add eth2 type veth peer name eth2 netns ${net.ns.lb2}`,
    'link set eth2 up',
    `addr add ${LBS.lb1.sync}/24 dev eth2`,
  ]);
  await net.ip('lb2', ['link set eth2 up', `addr add ${LBS.lb2.sync}/24 dev eth2`]);
  for (const [name, a] of Object.entries(BACKENDS))
    await net.ip(name, ['link set lo up', ...port('eth0', 'back', `p${name}`), `addr add ${a}/24 dev eth0`]);
  for (const sw of ['front', 'back']) {
    const r = await net.exec(sw, ['ip', '-o', 'link', 'show']);
    const ports = [...r.stdout.matchAll(/^\d+: (p[a-z0-9]+)@/gm)].map((m) => m[1]!);
    await net.ip(
      sw,
      ports.flatMap((p) => [`link set ${p} master br0`, `link set ${p} up`]),
    );
  }
  for (const name of Object.keys(LBS))
    await net.exec(name, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0']);
  for (const [name, a] of Object.entries(BACKENDS))
    await startServer(net, name, ['--tcp', `${a}:8080`], `server ${name}`);
}

/** One node's daemons and files. */
interface Node {
  readonly name: LbName;
  readonly dir: string;
  keepalived?: Daemon;
  conntrackd?: Daemon;
  /** What conntrackd tells systemd (startNode). */
  notify?: Daemon;
}

// A stand-in for systemd's notification socket: prints every datagram it gets (conntrackd's READY=1).
const NOTIFY_LISTENER = [
  'unlink $ARGV[0];',
  'my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die "bind $ARGV[0]: $!\\n";',
  '$| = 1;',
  'print "listening\\n";',
  'while (defined $s->recv(my $m, 4096)) { print "$m\\n"; }',
].join(' ');

// conntrackd is started as Debian's conntrackd.service (Type=notify) starts it: with $NOTIFY_SOCKET, on which systemd
// waits for READY=1 (a conntrackd that never sends it is killed at the unit's start timeout).
async function startNode(net: Net, n: Node): Promise<void> {
  const socket = `${n.dir}/notify.sock`;
  await n.notify?.stop();
  const notify = startDaemon(
    net,
    n.name,
    ['perl', '-MIO::Socket::UNIX', '-e', NOTIFY_LISTENER, socket],
    `notify ${n.name}`,
  );
  n.notify = notify;
  await waitFor(`${n.name}: the notification socket`, async () => (/listening/.test(notify.log()) ? true : undefined), {
    timeoutMs: 30000,
  });
  n.conntrackd = startDaemon(
    net,
    n.name,
    ['env', `NOTIFY_SOCKET=${socket}`, 'conntrackd', '-C', `${n.dir}/conntrackd.conf`],
    `conntrackd ${n.name}`,
  );
  n.keepalived = startDaemon(
    net,
    n.name,
    [
      'keepalived',
      '-n',
      '-l',
      '-D',
      '-P',
      '-f',
      `${n.dir}/keepalived.conf`,
      '-p',
      `${n.dir}/keepalived.pid`,
      '-r',
      `${n.dir}/vrrp.pid`,
      '-c',
      `${n.dir}/checkers.pid`,
    ],
    `keepalived ${n.name}`,
  );
}

// The state nftlb cluster notify recorded for a node (null before keepalived's first transition).
function role(n: Node): string | null {
  try {
    return (JSON.parse(readFileSync(`${n.dir}/nftlb.vrrp.json`, 'utf8')) as { state: string }).state;
  } catch {
    return null;
  }
}

// Kills a node's daemons the hard way (keepalived's VRRP child too, by the pid it wrote) and takes its links down:
// nothing of it answers any more, as a node that lost power.
async function die(net: Net, n: Node): Promise<void> {
  await net.exec(n.name, ['ip', 'link', 'set', 'eth0', 'down']);
  await net.exec(n.name, ['ip', 'link', 'set', 'eth1', 'down']);
  await net.exec(n.name, ['ip', 'link', 'set', 'eth2', 'down']);
  for (const file of ['vrrp.pid', 'keepalived.pid']) {
    try {
      const pid = Number(readFileSync(`${n.dir}/${file}`, 'utf8').trim());
      // An empty or torn pid file reads as 0: a kill of 0 is a kill of the test's own process group.
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await n.keepalived?.stop('SIGKILL');
  await n.conntrackd?.stop('SIGKILL');
}

let nextPort = 50000;

// From t0: bursts of 5 new connections (each given 1 s) until one all succeeds after `settled` says the change is
// done; then every held connection is pinged.
async function measure(
  t: ExecutionContext,
  pool: ConnPool,
  before: readonly PoolResult[],
  what: string,
  t0: number,
  settled: () => boolean,
): Promise<{ newMs: number; failedNew: number; survived: number }> {
  let failedNew = 0;
  let okSince: number | undefined = 0;
  const newMs = await waitFor(
    `${what}: new connections succeed`,
    async () => {
      const done = settled();
      const began = Date.now() - t0;
      const first = nextPort;
      nextPort += 5;
      const r = await pool.burst(CLIENT, 5, first);
      const failed = r.filter((x) => x.backend === null).length;
      failedNew += failed;
      if (failed > 0) okSince = undefined;
      else okSince ??= began;
      return done && failed === 0 ? okSince : undefined;
    },
    { timeoutMs: 90000, intervalMs: 100 },
  );
  const after = await pool.ping();
  const survived = after.filter((r, i) => r.backend !== null && r.backend === before[i]?.backend).length;
  t.log(
    `${what}: new connections: ${failedNew === 0 ? 'none unanswered' : `${failedNew} not answered within 1 s, all answered again from ${newMs} ms`}; ${survived}/${before.length} established connections kept working, on their backend`,
  );
  t.deepEqual(after.filter((r) => r.backend === null).slice(0, 3), [], `${what}: established connections broken`);
  return { newMs, failedNew, survived };
}

kernelTest(
  'vrrp: keepalived and conntrackd from nftlb; established connections survive failover and failback',
  async (t) => {
    if (!(await requireTools(t, ['keepalived', 'conntrackd']))) return;
    const dir = workDir();
    const config = put(dir, 'nftlb.yaml', CONFIG);
    await withNet(['front', 'back', 'client', 'lb1', 'lb2', ...Object.keys(BACKENDS)], dir, async (net) => {
      await topology(net);
      const nodes: Node[] = [];
      for (const name of Object.keys(LBS) as LbName[]) {
        const d = nodeDir(net, name);
        const env = {
          NFTLB_NODE: name,
          NFTLB_CLUSTER_DIR: d,
          NFTLB_LOCK: `${d}/apply.lock`,
          NFTLB_STATE_DIR: `${d}/state`,
        };
        const program = nftlbArgv().join(' ');
        const ka = await nftlbIn(net, name, ['render', '-f', 'keepalived', '-c', config, '--program', program], env);
        t.is(ka.exitCode, 0, ka.stderr);
        put(d, 'keepalived.conf', ka.stdout);
        const checked = await net.exec(name, ['keepalived', '-t', '-f', `${d}/keepalived.conf`], { reject: false });
        t.is(checked.exitCode, 0, `keepalived -t: ${checked.stderr}`);
        const ct = await nftlbIn(net, name, ['render', '-f', 'conntrackd', '-c', config], env);
        t.is(ct.exitCode, 0, ct.stderr);
        put(d, 'conntrackd.conf', ct.stdout);
        const applied = await nftlbIn(net, name, ['apply', '-c', config], env);
        t.is(applied.exitCode, 0, applied.stderr);
        const n: Node = { name, dir: d };
        await startNode(net, n);
        nodes.push(n);
      }
      await waitFor(
        "conntrackd tells systemd it is ready (Debian's conntrackd.service is Type=notify)",
        async () => (nodes.every((n) => /READY=1/.test(n.notify?.log() ?? '')) ? true : undefined),
        { timeoutMs: 60000 },
      );
      const [lb1, lb2] = nodes as [Node, Node];
      const logs = (): string =>
        nodes.flatMap((n) => [n.keepalived?.log() ?? '', n.conntrackd?.log() ?? '']).join('\n');
      try {
        const t0 = Date.now();
        await waitFor(
          'lb1 master, lb2 backup',
          async () => (role(lb1) === 'master' && role(lb2) === 'backup' ? true : undefined),
          { timeoutMs: 60000 },
        );
        t.log(`lb1 became master ${Date.now() - t0} ms after keepalived started`);
        const status = await nftlbIn(net, 'lb1', ['status', '-c', config, '--json'], {
          NFTLB_NODE: 'lb1',
          NFTLB_CLUSTER_DIR: lb1.dir,
          NFTLB_STATE_DIR: `${lb1.dir}/state`,
          NFTLB_LOCK: `${lb1.dir}/apply.lock`,
        });
        const cluster = (JSON.parse(status.stdout) as { cluster: { node: string; role: string } }).cluster;
        t.deepEqual([cluster.node, cluster.role], ['lb1', 'master']);

        const conns = Array.from({ length: 20 }, (_, i): [string, number] => [CLIENT, 20000 + i]);
        const pool = connPool(net, 'client', { target: VIP, port: 80, conns, timeoutMs: 8000 });
        const opened = await pool.open();
        t.deepEqual(
          opened.filter((r) => r.backend === null),
          [],
          'every connection opens',
        );
        t.log(`20 connections through lb1: ${JSON.stringify(opened.map((r) => r.backend))}`);
        // conntrackd has copied them to lb2's external cache.
        await waitFor(
          'lb2 holds the connections in its external cache',
          async () => {
            const r = await net.exec('lb2', ['conntrackd', '-C', `${lb2.dir}/conntrackd.conf`, '-e'], {
              reject: false,
            });
            const n = (r.stdout.match(/dport=80 /g) ?? []).length;
            return n >= 20 ? n : undefined;
          },
          { timeoutMs: 30000 },
        );

        // Failover: lb1 dies. New connections are tried from that moment on, while lb2 takes over.
        let t1 = Date.now();
        await die(net, lb1);
        let masterMs: number | undefined;
        const failover = measure(t, pool, opened, 'failover to lb2', t1, () => masterMs !== undefined);
        await waitFor(
          'lb2 becomes master',
          async () => (role(lb2) === 'master' ? (masterMs = Date.now() - t1) : undefined),
          {
            timeoutMs: 60000,
          },
        );
        t.log(`lb1 died: lb2 master after ${masterMs} ms`);
        await failover;

        // Failback: lb1 comes back as after a reboot (its /run and /var/lock are empty again: conntrackd's stale lock
        // file goes), its daemons start, it waits preempt-delay as backup (receiving lb2's connections), then takes over.
        rmSync(`${lb1.dir}/conntrackd.lock`, { force: true });
        t1 = Date.now();
        for (const dev of ['eth0', 'eth1', 'eth2']) await net.exec('lb1', ['ip', 'link', 'set', dev, 'up']);
        await startNode(net, lb1);
        let backMs: number | undefined;
        const failback = measure(t, pool, opened, 'failback to lb1', t1, () => backMs !== undefined);
        await waitFor(
          'lb1 master again, lb2 backup',
          async () => (role(lb1) === 'master' && role(lb2) === 'backup' ? (backMs = Date.now() - t1) : undefined),
          { timeoutMs: 90000 },
        );
        t.log(`lb1 back: master again after ${backMs} ms`);
        await failback;
        await pool.stop();
      } catch (e) {
        t.log(logs());
        throw e;
      }
    });
  },
);
