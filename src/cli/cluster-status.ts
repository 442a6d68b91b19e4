import type { ClusterStatus } from '../cluster/status.js';

// The cluster line of `nftlb status`'s table: node, mode, role, what BIRD announces or since when VRRP is in its
// state, and the config fingerprint (nodes that show different ones run different configs).
export function clusterLine(c: ClusterStatus): string {
  const node = c.node === null ? 'this host is no node of the cluster (--node, NFTLB_NODE)' : `node ${c.node}`;
  const parts = [`cluster ${c.mode}: ${node}, ${c.role}`];
  if (c.mode === 'ecmp' && c.vips.length > 0) {
    const on = c.vips.filter((v) => v.announced === true).map((v) => v.vip);
    if (c.role !== 'unknown')
      parts.push(`announced ${on.length}/${c.vips.length}${on.length > 0 ? ` (${on.join(', ')})` : ''}`);
    const up = c.peers.filter((p) => p.state === 'Established').length;
    if (c.peers.length > 0 && c.role !== 'unknown') parts.push(`BGP ${up}/${c.peers.length} established`);
  }
  if (c.since !== null) parts.push(`since ${c.since}`);
  parts.push(`config ${c.fingerprint} (nftlb ${c.version})`);
  return `${parts.join(', ')}${c.reason === null ? '' : `\n  (${c.reason})`}`;
}

/** One Prometheus sample: labels and value. */
type Sample = [Record<string, string>, number | null];

// The cluster's metrics: info (node, mode, role, fingerprint, version as labels), the role as numbers, each VIP's
// announcement and each BGP session's state. An alert on count(count by (fingerprint) (nftlb_cluster_info)) > 1 finds
// nodes that run different configs.
export function clusterMetrics(c: ClusterStatus): { name: string; type: string; help: string; samples: Sample[] }[] {
  const out = [
    {
      name: 'nftlb_cluster_info',
      type: 'gauge',
      help: 'Always 1; the node, cluster mode, role, config fingerprint and nftlb version as labels.',
      samples: [
        [{ node: c.node ?? '', mode: c.mode, role: c.role, fingerprint: c.fingerprint, version: c.version }, 1],
      ] as Sample[],
    },
  ];
  if (c.mode === 'vrrp')
    out.push({
      name: 'nftlb_cluster_vrrp_master',
      type: 'gauge',
      help: '1 while this node is the VRRP master (the state keepalived last reported through nftlb cluster notify).',
      samples: [[{ node: c.node ?? '' }, c.role === 'unknown' ? null : c.role === 'master' ? 1 : 0]],
    });
  else {
    out.push({
      name: 'nftlb_cluster_vip_announced',
      type: 'gauge',
      help: '1 while BIRD announces the VIP from this node (ECMP).',
      samples: c.vips.map((v): Sample => [
        { node: c.node ?? '', vip: v.vip },
        v.announced === null ? null : v.announced ? 1 : 0,
      ]),
    });
    out.push({
      name: 'nftlb_cluster_bgp_session_up',
      type: 'gauge',
      help: '1 while the BGP session with the peer is Established.',
      samples: c.peers.map((p): Sample => [
        { node: c.node ?? '', peer: p.peer },
        p.state === null ? null : p.state === 'Established' ? 1 : 0,
      ]),
    });
  }
  return out;
}
