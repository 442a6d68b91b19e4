import type { Address } from './types.js';

// The `cluster` section: more than one balancer from one config file. nftlb renders the engines' configurations
// (BIRD 2 for ecmp, keepalived and conntrackd for vrrp) and drives them; the table itself is the same on every node.

/** A BGP neighbour of a node (the upstream router that spreads the VIPs over the nodes by ECMP). */
export interface BgpPeer {
  readonly path: string;
  readonly address: Address;
  readonly asn: number;
}

/** One balancer node. Every node reads the same file; the node a host is comes from --node, $NFTLB_NODE or its
 *  hostname. */
export interface ClusterNode {
  readonly path: string;
  /** Its name (a hostname, or what --node and $NFTLB_NODE say). */
  readonly name: string;
  /** Its own addresses: the BGP sessions' source (ecmp), the VRRP router id's source. */
  readonly addresses: readonly Address[];
  /** ecmp: the node's ASN, its BGP router id (an IPv4 address) and its neighbours (its own or the section's). */
  readonly asn: number;
  readonly routerId: string | undefined;
  readonly peers: readonly BgpPeer[];
  /** vrrp: its priority (the higher one is master while it is up). */
  readonly priority: number;
  /** vrrp: its address on the conntrackd sync link. */
  readonly syncAddress: Address | undefined;
}

/** ecmp: every node announces the VIPs it can serve with BGP; the router spreads flows over them. */
export interface EcmpSettings {
  /** Seconds without a message after which a BGP session is down (the router drops a dead node's routes then). */
  readonly holdTime: number;
}

/** vrrp: keepalived moves the VIPs and the floating backend-side address to the master; conntrackd copies the
 *  connection table between the two nodes. */
export interface VrrpSettings {
  /** VRRP virtual router id (both instances: one per segment). */
  readonly id: number;
  /** The clients' side: VRRP adverts and the VIPs. */
  readonly interface: string;
  /** The backends' side: where the floating source address lives (the same as interface: one instance). */
  readonly backendInterface: string;
  /** The floating backend-side source addresses (one per family), what masquerade becomes: backends see the same
   *  source whichever node is master. */
  readonly snat: readonly Address[];
  /** The conntrackd sync link. */
  readonly syncInterface: string;
  readonly advertInterval: number;
  /** Seconds a node that comes back stays backup (receiving the connection table) before it takes over. */
  readonly preemptDelay: number;
}

/** The cluster section, normalized. */
export type Cluster = {
  readonly path: string;
  readonly nodes: readonly ClusterNode[];
} & ({ readonly mode: 'ecmp'; readonly ecmp: EcmpSettings } | { readonly mode: 'vrrp'; readonly vrrp: VrrpSettings });

/** Defaults of the cluster section (README.md, More than one balancer). */
export const CLUSTER_DEFAULTS = {
  holdTime: 9,
  advertInterval: 1,
  preemptDelay: 5,
} as const;
