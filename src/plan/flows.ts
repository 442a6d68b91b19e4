import type { Family, PortRange, Protocol } from '../model/types.js';
import { SLOT_BASE, type PlannedService } from './types.js';

// Which backend a connection nftlb balanced went to, told from what conntrack records of the connection itself: its
// original destination (one of the service's VIPs, protocols and ports) and its reply source (the backend's address,
// and the backend's port when it has one). Not from the ct mark: a connection keeps as its mark the id its backend had
// when it opened, and ids follow config order, so after a reload that removes a backend or inserts one above others
// the older connections carry ids that now name other backends (or none).

/** Where a backend's connections go, as conntrack records them. */
export interface BackendFlows {
  readonly family: Family;
  /** The backend's address (canonical text): the reply source of its connections. */
  readonly address: string;
  /** The backend's port, the reply source port; undefined when the backend keeps the port the client connected to. */
  readonly port: number | undefined;
  /** The service's VIPs of the backend's family (canonical text), protocols and ports: the original destination. */
  readonly vips: readonly string[];
  readonly protocols: readonly Protocol[];
  readonly ports: readonly PortRange[];
}

/** What of a conntrack entry tells its backend. */
export interface FlowFields {
  readonly proto: string;
  /** Original direction destination: the VIP and port the client connected to. */
  readonly dst: string;
  readonly dport: number | undefined;
  /** Reply direction source: where the backend answered from. */
  readonly replySrc: string | undefined;
  readonly replySport: number | undefined;
}

// Whether a ct mark can be a balanced connection's: some backend id, not necessarily its backend's id now. A filter
// that costs nothing before an entry is parsed and cannot miss a connection after ids moved.
export const isBackendMark = (mark: number): boolean => mark > 0 && mark < SLOT_BASE;

// The flows of each backend of a service, in the order of its backends.
export function serviceFlows(s: PlannedService): BackendFlows[] {
  const vips = { 4: [] as string[], 6: [] as string[] };
  for (const pool of s.pools) for (const v of pool.vips) vips[v.family].push(v.text);
  return s.backends.map((b) => ({
    family: b.address.family,
    address: b.address.text,
    port: b.port,
    vips: vips[b.address.family],
    protocols: s.protocols,
    ports: s.ports,
  }));
}

// Backends found by their connections' conntrack fields. conntrack prints addresses as inet_ntop writes them, the
// canonical form the plan's texts have (RFC 5952), so they are compared as text.
export class FlowIndex<T> {
  /** Reply source address -> VIP -> the backends at that address behind that VIP. Two lookups rather than one of a
   *  key joined from both: no string made per conntrack entry (status reads hundreds of thousands at 50k services). */
  private readonly byAddress = new Map<string, Map<string, { flows: BackendFlows; value: T }[]>>();

  add(flows: BackendFlows, value: T): void {
    let byVip = this.byAddress.get(flows.address);
    if (byVip === undefined) this.byAddress.set(flows.address, (byVip = new Map()));
    for (const vip of flows.vips) {
      const at = byVip.get(vip);
      if (at === undefined) byVip.set(vip, [{ flows, value }]);
      else at.push({ flows, value });
    }
  }

  /** The backend the entry's connection went to, or undefined when it is none of the indexed backends'. */
  find(e: FlowFields): T | undefined {
    const dport = e.dport;
    if (e.replySrc === undefined || dport === undefined) return undefined;
    const at = this.byAddress.get(e.replySrc)?.get(e.dst);
    if (at === undefined) return undefined;
    for (const { flows, value } of at) {
      if (flows.port !== undefined && flows.port !== e.replySport) continue;
      if (!flows.protocols.includes(e.proto as Protocol)) continue;
      if (flows.ports.some((r) => dport >= r.first && dport <= r.last)) return value;
    }
    return undefined;
  }
}

/** One conntrack filter for a backend's connections (src/system/conntrack.ts turns it into arguments). */
export interface FlowFilter {
  readonly family: Family;
  readonly proto: Protocol;
  readonly vip: string;
  /** The service port; undefined when the service has a port range. */
  readonly dport: number | undefined;
  readonly replySrc: string;
  readonly replySport: number | undefined;
}

// The conntrack filters that together select a backend's connections: one per VIP and protocol, times one per port
// when the service's ports are single ports. conntrack matches one port, not a range: with a port range among them the
// filters leave the port out, so they also select the connections to another service on the same VIP and protocol
// whose backend has the same address.
export function flowFilters(f: BackendFlows): FlowFilter[] {
  const single = f.ports.every((r) => r.first === r.last);
  const dports = single ? f.ports.map((r) => r.first) : [undefined];
  const out: FlowFilter[] = [];
  for (const vip of f.vips)
    for (const proto of f.protocols)
      for (const dport of dports)
        out.push({ family: f.family, proto, vip, dport, replySrc: f.address, replySport: f.port });
  return out;
}
