// nftlb which agrees with real packets: 1000 clients per service, source-hash (weighted: slot ranges) and Maglev,
// IPv4 and IPv6, hashing the client address alone and with ports (nft's padded concatenation). Each client sends one
// UDP datagram from its own address and port through the balancer; the backend that answers must be the one
// `nftlb which` names for that client.
import { kernelTest } from './support/kernel-test.js';
import { nftlbIn, put, startServer, udpFlows, withNet, type Net } from './support/cluster.js';
import { workDir } from './support/ops.js';

const BACKENDS4 = ['198.51.100.10', '198.51.100.11', '198.51.100.12', '198.51.100.13'];
const BACKENDS6 = ['2001:db8:2::10', '2001:db8:2::11', '2001:db8:2::12', '2001:db8:2::13'];
const VIP4 = '203.0.113.100';
const VIP6 = '2001:db8:1::100';

const CONFIG = [
  'services:',
  '  - name: sh4',
  `    vip: ${VIP4}`,
  '    protocol: udp',
  '    port: 53',
  '    scheduler: source-hash',
  '    hash: { fields: [saddr], seed: 0x5eed }',
  '    backends:',
  ...BACKENDS4.map((b, i) => `      - { address: ${b}, port: 8053, weight: ${[1, 2, 1, 3][i]} }`),
  '  - name: mg4',
  `    vip: ${VIP4}`,
  '    protocol: udp',
  '    port: 54',
  '    scheduler: maglev',
  '    hash: { fields: [saddr, sport], table-size: 1009 }',
  '    backends:',
  ...BACKENDS4.map((b) => `      - { address: ${b}, port: 8053 }`),
  '  - name: sh6',
  `    vip: "${VIP6}"`,
  '    protocol: udp',
  '    port: 53',
  '    scheduler: source-hash',
  '    backends:',
  ...BACKENDS6.map((b) => `      - { address: "${b}", port: 8053 }`),
  '  - name: mg6',
  `    vip: "${VIP6}"`,
  '    protocol: udp',
  '    port: [54, 55]',
  '    scheduler: maglev',
  '    hash: { fields: [saddr, sport, daddr, dport] }',
  '    backends:',
  ...BACKENDS6.map((b) => `      - { address: "${b}" }`),
  '',
].join('\n');

// client (sources 198.18.0.0/16 and 2001:db8:10::/64, any address of them) -- lb -- backends (one namespace). The VIPs
// are routed to the balancer (off the client's link).
async function topology(net: Net): Promise<void> {
  await net.ip('client', [
    'link set lo up',
    `link add c0 type veth peer name lc0 netns ${net.ns.lb}`,
    'link set c0 up',
    'addr add 203.0.113.2/28 dev c0',
    'addr add 2001:db8:ff::2/64 dev c0 nodad',
    'route add default via 203.0.113.14',
    'route add default via 2001:db8:ff::1',
    'route add local 198.18.0.0/16 dev lo',
    'route add local 2001:db8:10::/64 dev lo',
  ]);
  await net.ip('backend', [
    'link set lo up',
    `link add b0 type veth peer name lb0 netns ${net.ns.lb}`,
    'link set b0 up',
    ...BACKENDS4.map((a) => `addr add ${a}/24 dev b0`),
    ...BACKENDS6.map((a) => `addr add ${a}/64 dev b0 nodad`),
    'route add default via 198.51.100.1',
    'route add default via 2001:db8:2::1',
  ]);
  await net.ip('lb', [
    'link set lo up',
    'link set lc0 up',
    'link set lb0 up',
    'addr add 203.0.113.14/28 dev lc0',
    'addr add 2001:db8:ff::1/64 dev lc0 nodad',
    'addr add 198.51.100.1/24 dev lb0',
    'addr add 2001:db8:2::1/64 dev lb0 nodad',
    'route add 198.18.0.0/16 via 203.0.113.2',
    'route add 2001:db8:10::/64 via 2001:db8:ff::2',
  ]);
  await net.exec('lb', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  await net.exec('client', ['sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1', 'net.ipv6.ip_nonlocal_bind=1']);
}

const v4client = (i: number): string => `198.18.${i >> 8}.${i & 255}`;
const v6client = (i: number): string => `2001:db8:10::${(i + 1).toString(16)}`;
const hostPort = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);

// Each case: a service, the VIP and port the clients send to, and 1000 (address, port) flows.
const CASES: { service: string; vip: string; port: number; flows: [string, number][] }[] = [
  { service: 'sh4', vip: VIP4, port: 53, flows: Array.from({ length: 1000 }, (_, i) => [v4client(i), 40000]) },
  {
    service: 'mg4',
    vip: VIP4,
    port: 54,
    flows: Array.from({ length: 1000 }, (_, i) => [v4client(i % 250), 41000 + Math.floor(i / 250) * 97]),
  },
  { service: 'sh6', vip: VIP6, port: 53, flows: Array.from({ length: 1000 }, (_, i) => [v6client(i), 40000]) },
  {
    service: 'mg6',
    vip: VIP6,
    port: 55,
    flows: Array.from({ length: 1000 }, (_, i) => [v6client(i % 500), 42000 + Math.floor(i / 500) * 1013]),
  },
];

kernelTest(
  'nftlb which names the backend the kernel picks for 1000 clients per service (source-hash, maglev, IPv4, IPv6)',
  async (t) => {
    const dir = workDir();
    const config = put(dir, 'which.yaml', CONFIG);
    await withNet(['client', 'lb', 'backend'], dir, async (net) => {
      await topology(net);
      await startServer(
        net,
        'backend',
        [...BACKENDS4, ...BACKENDS6]
          .flatMap((b) => ['--udp', hostPort(b, 8053), '--udp', hostPort(b, 55)])
          .concat(BACKENDS6.flatMap((b) => ['--udp', hostPort(b, 54)])),
        'backends',
      );
      const env = { NFTLB_LOCK: `${dir}/apply.lock`, NFTLB_STATE_DIR: `${dir}/state` };
      const applied = await nftlbIn(net, 'lb', ['apply', '-c', config], env);
      t.is(applied.exitCode, 0, applied.stderr);
      for (const c of CASES) {
        const got = await udpFlows(net, 'client', { target: c.vip, port: c.port, flows: c.flows });
        t.is(got.length, c.flows.length);
        const failed = got.filter((r) => r.backend === null);
        t.deepEqual(failed.slice(0, 5), [], `${c.service}: ${failed.length} flows unanswered`);
        const args = ['which', '-c', config, '--service', c.service, '--port', String(c.port), '--json'];
        const which = await nftlbIn(net, 'lb', [...args, ...c.flows.map(([a, p]) => hostPort(a, p))], env);
        t.is(which.exitCode, 0, which.stderr);
        const answers = (JSON.parse(which.stdout) as { answers: { client: string; backend: string | null }[] }).answers;
        // A backend that keeps the client's port is named by its address alone (mg6); the server says address:port.
        const same = (kernel: string, which: string | null | undefined): boolean =>
          which === kernel || (which !== null && which !== undefined && kernel.startsWith(`${which}:`));
        const differ = got.filter((r, i) => r.backend !== null && !same(r.backend, answers[i]?.backend));
        const spread = new Set(got.map((r) => r.backend)).size;
        t.log(
          `${c.service}: ${got.length - failed.length} flows answered, ${differ.length} differ from nftlb which, ${spread} backends reached`,
        );
        t.deepEqual(
          differ.slice(0, 5).map((r) => `${hostPort(r.source, r.sport)}: kernel ${r.backend}`),
          [],
          `${c.service}: ${differ.length} of ${got.length} differ`,
        );
        t.true(spread >= 3, `${c.service}: the clients reach ${spread} backends`);
      }
    });
  },
);
