import { NftlbError } from '../common/errors.js';
import type { Cluster, ClusterNode } from '../model/cluster.js';
import type { ClusterHost } from '../system/host.js';

// Which node of the cluster this host is: --node, then $NFTLB_NODE (both in ClusterHost.node), then the hostname up to
// its first dot. Every node reads the same file; only this choice differs.
export function thisNode(c: Cluster, host: ClusterHost): ClusterNode {
  const found = findNode(c, host);
  if (found !== undefined) return found;
  const names = c.nodes.map((n) => n.name).join(', ');
  throw new NftlbError(
    'usage',
    host.node !== undefined
      ? `--node/$NFTLB_NODE ${host.node} is no node of the cluster (nodes: ${names})`
      : `this host (hostname ${host.hostname}) is no node of the cluster (nodes: ${names}): give --node NAME or set NFTLB_NODE`,
  );
}

// The node, or undefined when neither the name given nor the hostname is one.
export function findNode(c: Cluster, host: ClusterHost): ClusterNode | undefined {
  const name = host.node ?? host.hostname;
  return c.nodes.find((n) => n.name === name);
}
