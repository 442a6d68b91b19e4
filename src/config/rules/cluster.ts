import type { Diagnostic } from '../../common/diagnostic.js';
import type { Cluster } from '../../model/cluster.js';
import type { Service } from '../../model/types.js';
import type { RawCluster, RawConfig } from '../schema.js';
import { error, warning, type Rule } from './rule.js';

// The cluster section: what each mode needs (BGP for ecmp, keepalived and conntrackd for vrrp), and what the services
// must be for the nodes to agree. In ecmp mode the router may move a flow to another node at any time, so a flow's
// backend must follow from the packet and the config alone: round robin, random and symmetric-hash cannot (a per-node
// counter, a per-boot key), and source NAT makes a moved connection arrive at the backend from another address.
export const cluster: Rule = ({ raw, model }) => {
  const c = model.cluster;
  const r = raw.cluster;
  if (c === undefined || r === undefined) return [];
  const out: Diagnostic[] = [];
  const seen = new Map<string, string>();
  for (const n of c.nodes) {
    const prev = seen.get(n.name);
    if (prev !== undefined)
      out.push(error(`${n.path}/name`, 'cluster.node-name', `node name "${n.name}" is already used by ${prev}`));
    else seen.set(n.name, n.path.slice(1).replace('/nodes/', '.nodes[') + ']');
    // A host is this node by --node, $NFTLB_NODE or its hostname up to the first dot: a dotted name is never that.
    if (n.name.includes('.'))
      out.push(
        warning(
          `${n.path}/name`,
          'cluster.node-dotted',
          `node name "${n.name}" has a dot: a host takes its hostname up to the first dot ("${n.name.split('.')[0]}") as its node name, so this node needs --node or NFTLB_NODE on it`,
        ),
      );
  }
  out.push(...(c.mode === 'ecmp' ? ecmpSection(c, r, model.services) : vrrpSection(c, r)));
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const rs = raw.services[i];
    if (rs !== undefined) out.push(...(c.mode === 'ecmp' ? ecmpService(s, rs) : vrrpService(s, rs, c)));
  }
  return out;
};

type RawService = RawConfig['services'][number];

// A key that belongs to the other mode.
function unused(path: string, key: string, mode: 'ecmp' | 'vrrp'): Diagnostic {
  return error(path, 'cluster.unused', `${key} applies to mode ${mode}; remove it or change cluster.mode`);
}

function ecmpSection(c: Cluster & { mode: 'ecmp' }, r: RawCluster, services: readonly Service[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (r.vrrp !== undefined) out.push(unused(`${c.path}/vrrp`, 'vrrp', 'vrrp'));
  // A VIP is announced over a session of its family (BIRD's ipv4 and ipv6 channels).
  const vipFamilies = new Set<number>();
  for (const s of services) for (const v of s.vips) vipFamilies.add(v.family);
  c.nodes.forEach((n, i) => {
    const rn = r.nodes[i]!;
    for (const key of ['priority', 'sync-address'] as const)
      if (rn[key] !== undefined) out.push(unused(`${n.path}/${key}`, key, 'vrrp'));
    if (n.asn === 0)
      out.push(
        error(n.path, 'cluster.asn', `node ${n.name} has no ASN: set cluster.bgp.asn (every node) or its own asn`),
      );
    if (n.peers.length === 0)
      out.push(
        error(
          n.path,
          'cluster.peers',
          `node ${n.name} has no BGP peer: set cluster.bgp.peers (every node) or its own peers, the router that spreads the VIPs`,
        ),
      );
    if (n.routerId === undefined)
      out.push(
        error(
          n.path,
          'cluster.router-id',
          `node ${n.name} needs a BGP router id: an IPv4 address in its address, or router-id`,
        ),
      );
    else if (!/^\d+\.\d+\.\d+\.\d+$/.test(n.routerId))
      out.push(
        error(`${n.path}/router-id`, 'cluster.router-id', `a BGP router id is an IPv4 address, got ${n.routerId}`),
      );
    for (const fam of [...vipFamilies].sort())
      if (n.peers.length > 0 && !n.peers.some((p) => p.address.family === fam))
        out.push(
          error(
            n.path,
            'cluster.vip-family',
            `node ${n.name} has IPv${fam} VIPs to announce but no IPv${fam} BGP peer (a VIP is announced over a session of its family)`,
          ),
        );
    for (const p of n.peers) {
      if (!n.addresses.some((a) => a.family === p.address.family))
        out.push(
          error(
            rn.address === undefined ? n.path : `${n.path}/address`,
            'cluster.peer-family',
            `node ${n.name} has no IPv${p.address.family} address for its BGP session with ${p.address.text}: add one to its address`,
          ),
        );
      if (n.addresses.some((a) => a.text === p.address.text))
        out.push(error(`${p.path}/address`, 'cluster.peer-address', `peer ${p.address.text} is node ${n.name} itself`));
    }
  });
  return out;
}

function vrrpSection(c: Cluster & { mode: 'vrrp' }, r: RawCluster): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (r.bgp !== undefined) out.push(unused(`${c.path}/bgp`, 'bgp', 'ecmp'));
  if (r.vrrp === undefined)
    out.push(
      error(
        `${c.path}/mode`,
        'cluster.vrrp',
        'mode vrrp needs a vrrp section: id, interface (the VIPs) and sync-interface (conntrackd)',
      ),
    );
  if (c.nodes.length !== 2)
    out.push(
      error(
        `${c.path}/nodes`,
        'cluster.vrrp-nodes',
        `mode vrrp pairs exactly two nodes (conntrackd's FTFW sync over UDP has one peer), got ${c.nodes.length}`,
      ),
    );
  const families = new Set<number>();
  for (const a of c.vrrp.snat) {
    if (families.has(a.family))
      out.push(error(`${c.path}/vrrp/snat`, 'cluster.snat', `one floating address per family; two are IPv${a.family}`));
    families.add(a.family);
  }
  c.nodes.forEach((n, i) => {
    const rn = r.nodes[i]!;
    for (const key of ['asn', 'peers', 'router-id'] as const)
      if (rn[key] !== undefined) out.push(unused(`${n.path}/${key}`, key, 'ecmp'));
    if (rn.priority === undefined)
      out.push(
        error(n.path, 'cluster.priority', `node ${n.name} needs a VRRP priority (1-254; the higher one is master)`),
      );
    if (n.syncAddress === undefined)
      out.push(
        error(
          n.path,
          'cluster.sync-address',
          `node ${n.name} needs sync-address: its address on ${c.vrrp.syncInterface || 'the sync interface'}, where conntrackd sends and listens`,
        ),
      );
  });
  const [a, b] = c.nodes;
  if (a !== undefined && b !== undefined && c.nodes.length === 2) {
    if (r.nodes[0]?.priority !== undefined && a.priority === b.priority)
      out.push(
        warning(
          `${b.path}/priority`,
          'cluster.priority-equal',
          `nodes ${a.name} and ${b.name} have the same priority ${a.priority}: the one with the higher address becomes master; give the preferred one a higher priority`,
        ),
      );
    if (a.syncAddress !== undefined && b.syncAddress !== undefined && a.syncAddress.family !== b.syncAddress.family)
      out.push(
        error(
          `${b.path}/sync-address`,
          'cluster.sync-address',
          'both sync addresses must be of one family (conntrackd sends to the other node over one UDP socket)',
        ),
      );
  }
  return out;
}

// ecmp: what makes every node send a flow to the same backend, and what lets a moved connection survive.
function ecmpService(s: Service, r: RawService): Diagnostic[] {
  const out: Diagnostic[] = [];
  const kind = s.scheduler.kind;
  if (kind === 'round-robin' || kind === 'random' || kind === 'symmetric-hash')
    out.push(
      error(
        r.scheduler === undefined ? s.path : `${s.path}/scheduler`,
        'cluster.scheduler',
        `cluster mode ecmp needs scheduler source-hash or maglev: the router may send a flow's packets to any node, and ${
          kind === 'symmetric-hash'
            ? "symmetric-hash uses each node's per-boot key"
            : kind === 'round-robin'
              ? "round-robin picks by each node's own counter"
              : "random picks by each node's own random numbers"
        }, so the nodes would pick different backends${r.scheduler === undefined ? ' (round-robin is the default)' : ''}`,
      ),
    );
  const nat = r.nat === undefined ? s.path : `${s.path}/nat`;
  if (s.dsr === undefined && s.nat.kind !== 'none')
    out.push(
      warning(
        nat,
        'cluster.ecmp-nat',
        `${s.nat.kind === 'masquerade' ? 'masquerade' : 'source NAT'} in cluster mode ecmp: a connection the router moves to another node reaches the backend from that node's address (or a fresh NAT port) and is reset; use forwarding: dsr for connections that survive a node leaving or joining`,
      ),
    );
  if (s.dsr === undefined && s.nat.kind === 'none')
    out.push(
      warning(
        nat,
        'cluster.ecmp-nat-none',
        "nat: none in cluster mode ecmp: each node can undo the destination NAT of its own connections only, so each backend's replies must come back through the node that forwarded the connection; forwarding: dsr needs no such path",
      ),
    );
  if (s.persistence !== undefined)
    out.push(
      warning(
        `${s.path}/persistence`,
        'cluster.ecmp-persistence',
        "persistence entries live in each node's own table: a client the router moves to another node is scheduled there afresh (the hash gives the same backend until backends change)",
      ),
    );
  if (s.dsr !== undefined && s.onEmpty === 'reject')
    out.push(
      warning(
        r['on-empty'] === undefined ? s.path : `${s.path}/on-empty`,
        'cluster.ecmp-on-empty',
        'on-empty: reject in cluster mode ecmp: while a node whose checks emptied this service is being withdrawn, it resets the connections whose packets still reach it; on-empty: drop lets them retransmit to the node that takes over',
      ),
    );
  return out;
}

// vrrp: masquerade turns into source NAT to the floating address when it covers the service's families.
function vrrpService(s: Service, r: RawService, c: Cluster & { mode: 'vrrp' }): Diagnostic[] {
  if (s.dsr !== undefined) return [];
  const nat = r.nat === undefined ? s.path : `${s.path}/nat`;
  if (s.nat.kind === 'masquerade')
    return [
      warning(
        nat,
        'cluster.vrrp-masquerade',
        `masquerade in cluster mode vrrp: backends see the master's own address, which the other node does not take over, so connections do not survive a failover; set cluster.vrrp.snat (a floating address of ${s.vips
          .map((v) => `IPv${v.family}`)
          .filter((x, i, all) => all.indexOf(x) === i)
          .join(' and ')}) and masquerade uses it`,
      ),
    ];
  if (s.nat.kind === 'snat' && typeof r.nat === 'object') return floatingHint(s, nat, c);
  return [];
}

// An explicit snat to an address that is not floating: the node that takes over does not hold it.
function floatingHint(s: Service, path: string, c: Cluster & { mode: 'vrrp' }): Diagnostic[] {
  if (s.nat.kind !== 'snat') return [];
  const fixed = s.nat.addresses.filter((a) => !c.vrrp.snat.some((f) => f.text === a.text));
  if (fixed.length === 0) return [];
  return [
    warning(
      path,
      'cluster.vrrp-snat',
      `source NAT to ${fixed.map((a) => a.text).join(', ')}, which is not a floating address (cluster.vrrp.snat): after a failover the backends' replies go to an address the new master does not hold`,
    ),
  ];
}
