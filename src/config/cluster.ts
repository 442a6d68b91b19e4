import { CLUSTER_DEFAULTS, type BgpPeer, type Cluster, type ClusterNode } from '../model/cluster.js';
import type { Address, Nat, Service } from '../model/types.js';
import type { RawCluster } from './schema.js';

type AddressFn = (base: string, key: string, text: string) => Address;

// The cluster section with its defaults filled and its addresses parsed (src/model/cluster.ts). A node's ASN and peers
// are its own or the section's; what a mode needs and does not have is reported by the cluster rule
// (src/config/rules/cluster.ts), not here.
export function normalizeCluster(raw: RawCluster, address: AddressFn): Cluster {
  const path = '/cluster';
  const bgp = raw.bgp;
  const peersOf = (base: string, list: NonNullable<NonNullable<RawCluster['bgp']>['peers']>): BgpPeer[] =>
    list.map((p, i) => ({ path: `${base}/${i}`, address: address(`${base}/${i}`, 'address', p.address), asn: p.asn }));
  const sectionPeers = bgp?.peers === undefined ? [] : peersOf(`${path}/bgp/peers`, bgp.peers);
  const nodes = raw.nodes.map((n, i): ClusterNode => {
    const base = `${path}/nodes/${i}`;
    const list = n.address === undefined ? [] : typeof n.address === 'string' ? [n.address] : n.address;
    const addresses = list.map((a, j) => address(base, typeof n.address === 'string' ? 'address' : `address/${j}`, a));
    const routerId =
      n['router-id'] !== undefined
        ? address(base, 'router-id', n['router-id']).text
        : addresses.find((a) => a.family === 4)?.text;
    return {
      path: base,
      name: n.name,
      addresses,
      asn: n.asn ?? bgp?.asn ?? 0,
      routerId,
      peers: n.peers === undefined ? sectionPeers : peersOf(`${base}/peers`, n.peers),
      priority: n.priority ?? 0,
      syncAddress: n['sync-address'] === undefined ? undefined : address(base, 'sync-address', n['sync-address']),
    };
  });
  if (raw.mode === 'ecmp')
    return { path, nodes, mode: 'ecmp', ecmp: { holdTime: bgp?.['hold-time'] ?? CLUSTER_DEFAULTS.holdTime } };
  const v = raw.vrrp;
  const snat = v?.snat === undefined ? [] : typeof v.snat === 'string' ? [v.snat] : v.snat;
  return {
    path,
    nodes,
    mode: 'vrrp',
    vrrp: {
      id: v?.id ?? 0,
      interface: v?.interface ?? '',
      backendInterface: v?.['backend-interface'] ?? v?.interface ?? '',
      snat: snat.map((a, i) => address(`${path}/vrrp`, typeof v?.snat === 'string' ? 'snat' : `snat/${i}`, a)),
      syncInterface: v?.['sync-interface'] ?? '',
      advertInterval: v?.['advert-interval'] ?? CLUSTER_DEFAULTS.advertInterval,
      preemptDelay: v?.['preempt-delay'] ?? CLUSTER_DEFAULTS.preemptDelay,
    },
  };
}

// vrrp: a masquerade service's source NAT goes to the floating backend-side address instead, so backends see the same
// source whichever node is master (conntrackd's copies of its connections name that address). Only when the floating
// addresses cover every VIP family of the service; otherwise it stays masquerade (the cluster rule warns).
export function floatingNat(services: readonly Service[], cluster: Cluster | undefined): readonly Service[] {
  if (cluster?.mode !== 'vrrp' || cluster.vrrp.snat.length === 0) return services;
  const snat: Nat = { kind: 'snat', addresses: cluster.vrrp.snat };
  return services.map((s) =>
    s.nat.kind === 'masquerade' && s.dsr === undefined && coversFamilies(cluster.vrrp.snat, s)
      ? { ...s, nat: snat }
      : s,
  );
}

// True when `addresses` hold an address of each VIP family of the service.
export function coversFamilies(addresses: readonly Address[], s: Service): boolean {
  return s.vips.every((v) => addresses.some((a) => a.family === v.family));
}
