// A direct-server-return topology: a client, the balancer and N backends on one L2 segment, a bridge (a learning
// switch) in a namespace of its own, so a frame the balancer sends on with the client's MAC would teach the switch the
// wrong port for the client (and the test would see the backends' replies arrive at the balancer). Each backend has its
// own namespace (its own VIP on lo and ARP sysctls, set with nftlb's own recipe: setupDsrBackends). No link to the host.
import { assertAllowed, clientAddresses } from './addresses.js';
import { spawnNode } from './child.js';
import { reach } from './client.js';
import { nftlb } from './ops.js';
import { newPrefix, withNamespaces, type Topology } from './topology.js';

/** One backend of the segment: its namespace and addresses (on its eth0). */
export interface DsrBackend {
  readonly ns: string;
  readonly v4: string;
  readonly v6: string;
}

/** The DSR topology; `backend` (of Topology) is the first backend's namespace. The balancer's interface is eth0. */
export interface DsrTopology extends Topology {
  readonly sw: string;
  readonly backends: readonly DsrBackend[];
  /** The balancer's own addresses on the segment (the VIPs are extra addresses of the same interface). */
  readonly lbV4: '203.0.113.2';
  readonly lbV6: '2001:db8:1::2';
}

/** Sizes and VIPs; the VIPs go on the balancer's eth0 (it answers ARP and ND for them). */
export interface DsrTopologyOptions {
  readonly backends?: number;
  readonly clients?: number;
  readonly vips4?: readonly string[];
  readonly vips6?: readonly string[];
}

// Creates the namespaces, runs fn, then stops deferred children and deletes the namespaces (also on failure).
export async function withDsrTopology<T>(opts: DsrTopologyOptions, fn: (topo: DsrTopology) => Promise<T>): Promise<T> {
  const clients = clientAddresses(opts.clients ?? 40);
  const n = opts.backends ?? 3;
  if (n < 1 || n > 8) throw new Error('1..8 DSR backends');
  const vips4 = (opts.vips4 ?? ['203.0.113.1']).map(assertAllowed);
  const vips6 = (opts.vips6 ?? ['2001:db8:1::1']).map(assertAllowed);
  const prefix = newPrefix();
  const backends: DsrBackend[] = Array.from({ length: n }, (_, i) => ({
    ns: `${prefix}b${i + 1}`,
    v4: `198.51.100.${2 + i}`,
    v6: `2001:db8:2::${2 + i}`,
  }));
  const names = { client: `${prefix}client`, lb: `${prefix}lb`, sw: `${prefix}sw` };
  const all: Record<string, string> = { ...names };
  for (const b of backends) all[b.ns] = b.ns;
  return withNamespaces(prefix, all, async ({ exec, ip, defer }) => {
    const topo: DsrTopology = {
      prefix,
      client: names.client,
      lb: names.lb,
      backend: backends[0]!.ns,
      sw: names.sw,
      backends,
      clientV4: clients.v4,
      clientV6: clients.v6,
      backendV4: backends.map((b) => b.v4),
      backendV6: backends.map((b) => b.v6),
      vip4: '203.0.113.1',
      vip6: '2001:db8:1::1',
      lbClientIf: 'lbc0',
      lbBackendIf: 'lbb0',
      lbV4: '203.0.113.2',
      lbV6: '2001:db8:1::2',
      exec,
      nft: (script) => exec(names.lb, ['nft', '-f', '-'], { input: script }),
      defer,
    };
    // The switch: a bridge without multicast snooping (neighbour discovery's multicast is flooded like broadcast).
    await ip(names.sw, ['link set lo up', 'link add br0 type bridge mcast_snooping 0', 'link set br0 up']);
    // Each member's eth0 is a veth whose peer is a port of the bridge; created inside the member, so the host never
    // sees an interface.
    const port = (p: string): string[] => [
      'link set lo up',
      `link add eth0 type veth peer name ${p} netns ${names.sw}`,
      'link set eth0 up',
    ];
    await ip(names.client, [
      ...port('pc'),
      ...clients.v4.map((a) => `addr add ${a}/24 dev eth0`),
      ...clients.v6.map((a) => `addr add ${a}/64 dev eth0 nodad`),
      `route add default via ${topo.lbV4}`,
      `route add default via ${topo.lbV6}`,
    ]);
    await ip(names.lb, [
      ...port('pl'),
      `addr add ${topo.lbV4}/24 dev eth0`,
      `addr add ${topo.lbV6}/64 dev eth0 nodad`,
      'addr add 198.51.100.1/24 dev eth0',
      'addr add 2001:db8:2::1/64 dev eth0 nodad',
      ...vips4.map((v) => `addr add ${v}/32 dev eth0`),
      ...vips6.map((v) => `addr add ${v}/128 dev eth0 nodad`),
    ]);
    for (const [i, b] of backends.entries())
      await ip(b.ns, [
        ...port(`pb${i + 1}`),
        `addr add ${b.v4}/24 dev eth0`,
        `addr add ${b.v6}/64 dev eth0 nodad`,
        // Replies go to the clients directly, on the segment; the balancer is the way to anything else.
        'route add 203.0.113.0/24 dev eth0',
        'route add 2001:db8:1::/64 dev eth0',
        'route add default via 198.51.100.1',
        'route add default via 2001:db8:2::1',
      ]);
    await ip(names.sw, [
      ...['pc', 'pl', ...backends.map((_, i) => `pb${i + 1}`)].flatMap((p) => [
        `link set ${p} master br0`,
        `link set ${p} up`,
      ]),
    ]);
    // The balancer forwards NAT services' traffic back out of the interface it came in on: no ICMP redirects, which
    // would tell the client to skip it.
    await exec(names.lb, [
      'sysctl',
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv4.conf.all.send_redirects=0',
      'net.ipv4.conf.eth0.send_redirects=0',
    ]);
    await Promise.all([
      reach(topo, names.client, [topo.lbV4, topo.lbV6]),
      reach(topo, names.lb, [...backends.flatMap((b) => [b.v4, b.v6]), clients.v4[0]!, clients.v6[0]!]),
      ...backends.map((b) => reach(topo, b.ns, [clients.v4[0]!, clients.v6[0]!])),
    ]);
    return fn(topo);
  });
}

// Sets every backend up with nftlb's own recipe: `nftlb backend-setup -c CONFIG --backend ADDRESS --interface eth0`
// for each of its addresses that the config lists, each printed command run as is in the backend's namespace. Returns
// the commands run per backend namespace.
export async function setupDsrBackends(topo: DsrTopology, config: string): Promise<Map<string, string[][]>> {
  const out = new Map<string, string[][]>();
  for (const b of topo.backends) {
    const ran: string[][] = [];
    for (const address of [b.v4, b.v6]) {
      const r = await nftlb(topo, ['backend-setup', '-c', config, '--backend', address, '--interface', 'eth0']);
      if (r.exitCode === 2) continue; // not a DSR backend of this config
      if (r.exitCode !== 0) throw new Error(`backend-setup ${address}: exit ${r.exitCode}: ${r.stderr}`);
      for (const line of r.stdout.split('\n')) {
        if (line === '' || line.startsWith('#') || line === 'set -e') continue;
        const argv = line.split(' ');
        await topo.exec(b.ns, argv);
        ran.push(argv);
      }
    }
    out.set(b.ns, ran);
  }
  return out;
}

// Starts a server in every backend namespace listening on the VIPs (one process per family), answering with the
// backend's own address as identity, so the client learns which backend answered through the VIP. With `own`, on the
// backend's own addresses too (what a health check or a NAT service reaches). Returns a stop function per backend
// namespace.
export async function startDsrServers(
  topo: DsrTopology,
  o: {
    tcp?: readonly number[];
    udp?: readonly number[];
    vips4?: readonly string[];
    vips6?: readonly string[];
    own?: boolean;
  },
): Promise<Map<string, () => Promise<void>>> {
  const starts: Promise<void>[] = [];
  const stops = new Map<string, (() => Promise<void>)[]>();
  for (const b of topo.backends) {
    for (const [vips0, identity] of [
      [o.vips4 ?? [topo.vip4], b.v4],
      [o.vips6 ?? [topo.vip6], b.v6],
    ] as const) {
      const vips = o.own === true ? [...vips0, identity] : vips0;
      if (vips0.length === 0) continue;
      const host = (v: string): string => (v.includes(':') ? `[${v}]` : v);
      const args = vips.flatMap((v) => [
        ...(o.tcp ?? []).flatMap((p) => ['--tcp', `${host(v)}:${p}`]),
        ...(o.udp ?? []).flatMap((p) => ['--udp', `${host(v)}:${p}`]),
      ]);
      const child = spawnNode(topo, b.ns, 'backend-server.js', [...args, '--identity', identity], `dsr ${identity}`);
      stops.set(b.ns, [...(stops.get(b.ns) ?? []), child.stop]);
      starts.push(
        child.lines.next(10000).then(
          (l) => {
            if (l !== 'READY') throw new Error(`backend ${identity}: ${l}`);
          },
          (e: unknown) => {
            throw new Error(`backend ${identity} did not start: ${(e as Error).message}\n${child.stderr()}`);
          },
        ),
      );
    }
  }
  await Promise.all(starts);
  return new Map(
    [...stops].map(([ns, fs]) => [
      ns,
      async () => {
        await Promise.all(fs.map((f) => f()));
      },
    ]),
  );
}

// A netdev table of the test's own on the balancer's eth0, ahead of nftlb's (priority -500): counts every IPv4/IPv6
// packet the balancer receives from a VIP (a backend's reply: with DSR the balancer must see none), and every TCP and
// UDP packet to a VIP (the services' traffic: a client's IPv6 neighbour unreachability probe is unicast to the VIP too,
// now and then, and no service's).
export async function watchBalancer(topo: DsrTopology): Promise<() => Promise<{ fromVip: number; toVip: number }>> {
  const v4 = `{ ${topo.vip4} }`;
  const v6 = `{ ${topo.vip6} }`;
  await topo.nft(
    [
      'table netdev nftlbt_watch {',
      '\tchain in {',
      '\t\ttype filter hook ingress device "eth0" priority -500; policy accept;',
      `\t\tip saddr ${v4} counter`,
      `\t\tip6 saddr ${v6} counter`,
      `\t\tip daddr ${v4} meta l4proto { tcp, udp } counter`,
      `\t\tip6 daddr ${v6} meta l4proto { tcp, udp } counter`,
      '\t}',
      '}',
      '',
    ].join('\n'),
  );
  return async () => {
    const r = await topo.exec(topo.lb, ['nft', 'list', 'chain', 'netdev', 'nftlbt_watch', 'in']);
    const counts = [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    if (counts.length !== 4) throw new Error(`watch counters: ${r.stdout}`);
    return { fromVip: counts[0]! + counts[1]!, toVip: counts[2]! + counts[3]! };
  };
}
