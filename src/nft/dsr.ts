import type { Family } from '../model/types.js';
import type { Plan, PlannedService, Pool } from '../plan/types.js';
import type { Chain, DataType, Element, Expr, Field, Rule, SetView, Stmt, TableView } from './ast.js';
import { directBase, generated, listenerMap, NAMES, selectorExpr, sized, slotMaps } from './build.js';
import { ident, serviceChain, type Ident } from './names.js';
import { element, renderVerdict } from './render.js';

// The netdev table of direct server return. Its ingress chain on each DSR interface dispatches VIP . protocol . port
// through a verdict map to the service's chain, which writes a slot (or directly a backend id) into the packet's mark
// with a flow hash; one shared chain per interface turns the slot into a backend id and `fwd`s the packet to that
// backend's address: the kernel resolves the neighbour and writes both MAC addresses (the balancer's as the source, so
// a learning switch keeps the client where it is). No conntrack, no NAT: the backend holds the VIP and answers the client
// itself. The shape is the inet table's (docs/architecture.md): every map is bound by a constant number of rules per
// interface, so load time grows linearly with the services.

/** Fixed object names inside the netdev table. */
export const DSR_NAMES = {
  services: { 4: ident('services4'), 6: ident('services6') },
  serviceRanges: { 4: ident('services4_ranges'), 6: ident('services6_ranges') },
  /** backend id -> address (the port is the service's: DSR does not translate it). */
  backends: { 4: ident('backends4'), 6: ident('backends6') },
  refuse: ident('refuse'),
} as const;

const FAMILIES = [4, 6] as const;
const f = (field: Field): Expr => ({ kind: 'field', field });
const rule = (...stmts: Stmt[]): Rule => ({ stmts });
const addrType = (fam: Family): DataType => (fam === 4 ? 'ipv4_addr' : 'ipv6_addr');
const daddr = (fam: Family): Expr => f(fam === 4 ? 'ip daddr' : 'ip6 daddr');
const listenerKey = (fam: Family): Expr => ({ kind: 'concat', parts: [daddr(fam), f('meta l4proto'), f('th dport')] });

// The chain that forwards out of the k-th DSR interface (in sorted order), and the ingress chain hooked on it.
const fwdChain = (k: number): Ident => ident(`fwd_${k}`);
const ingressChain = (k: number): Ident => ident(`ingress_${k}`);

// The interfaces of a plan's DSR services, sorted: their order numbers the fwd_ and ingress_ chains.
export function dsrInterfaces(p: Plan): string[] {
  const set = new Set<string>();
  for (const s of p.services) if (s.dsr !== undefined) set.add(s.dsr.interface);
  return [...set].sort();
}

// The netdev table for the DSR services of `p` (p holds only those: see dsrPlan).
// `devices`: the interfaces of the whole config when p holds only some of its DSR services (an incremental update).
export function dsrTableView(p: Plan, name: Ident, comment: string, devices = dsrInterfaces(p)): TableView {
  const sets: SetView[] = [];
  for (const fam of FAMILIES) {
    // A pool with no backend up keeps its listeners here with the on-empty verdict: netdev has no conntrack to tell
    // a new connection from an established one, so every packet to it gets that verdict.
    const all = (pool: Pool): boolean => pool.family === fam;
    const target = (s: PlannedService, pool: Pool): string =>
      pool.selector !== null
        ? `goto ${serviceChain(s.name, pool.family)}`
        : renderVerdict(s.onEmpty === 'drop' ? { kind: 'drop' } : { kind: 'jump', chain: DSR_NAMES.refuse });
    sets.push(listenerMap(p, DSR_NAMES.services[fam], fam, all, target, 'single'));
    sets.push(listenerMap(p, DSR_NAMES.serviceRanges[fam], fam, all, target, 'ranges'));
  }
  sets.push(...slotMaps(p));
  sets.push(...backendMaps(p.services));
  const probes = probeMaps(p, devices);
  sets.push(...probes.map((x) => x.set));
  const fixed: Chain[] = [
    refuseChain(),
    ...devices.map((d, k) => fwdChainOf(k, d)),
    ...devices.map((d, k) => ingressChainOf(k, d)),
    ...(probes.length > 0 ? [probeChain(probes)] : []),
  ];
  const chains = generated(function* () {
    for (let i = 0; i < p.services.length; i++) {
      const s = p.services[i]!;
      const k = devices.indexOf(s.dsr?.interface ?? '');
      for (let j = 0; j < s.pools.length; j++)
        if (s.pools[j]!.selector !== null) yield serviceChainOf(s, s.pools[j]!, k);
    }
    yield* fixed;
  });
  return { family: 'netdev', name, comment, sets, chains };
}

// backend id -> address, per family. Every backend is listed whatever its state, so a health change touches only the
// listener and slot maps.
function backendMaps(services: readonly PlannedService[]): SetView[] {
  return FAMILIES.map((fam): SetView => {
    let count = 0;
    for (const s of services) for (const b of s.backends) if (b.address.family === fam) count++;
    const elements = generated(function* (): Generator<Element> {
      for (let i = 0; i < services.length; i++) {
        const backends = services[i]!.backends;
        for (let j = 0; j < backends.length; j++) {
          const b = backends[j]!;
          if (b.address.family === fam) yield element(String(b.id), b.address.text);
        }
      }
    });
    return {
      kind: 'map',
      name: DSR_NAMES.backends[fam],
      key: ['mark'],
      value: [addrType(fam)],
      flags: [],
      ...sized(count),
      elements: count === 0 ? [] : elements,
    };
  });
}

// The per-pool chain: counts the packets the balancer forwards for the service (every packet of the client's
// direction, none of the replies) and writes the slot (or backend id) of the packet's flow into its mark.
function serviceChainOf(s: PlannedService, pool: Pool, device: number): Chain {
  const base = directBase(pool) ?? pool.slotBase;
  return {
    name: serviceChain(s.name, pool.family),
    rules: [
      rule(
        { kind: 'counter' },
        { kind: 'meta-mark-set', value: selectorExpr(pool.selector!, pool.family, base) },
        { kind: 'verdict', verdict: { kind: 'goto', chain: fwdChain(device) } },
      ),
    ],
  };
}

// Slot -> backend id (a lookup that misses ends only its own rule: a direct selection is an id already), then `fwd` to
// the backend's address out of the interface; the kernel resolves the neighbour (ARP or ND) and writes the MACs.
function fwdChainOf(k: number, device: string): Chain {
  const lookup = (map: Ident): Expr => ({ kind: 'map-lookup', key: f('meta mark'), map });
  return {
    name: fwdChain(k),
    rules: [
      rule({ kind: 'meta-mark-set', value: lookup(NAMES.slots) }),
      rule({ kind: 'meta-mark-set', value: lookup(NAMES.slotRanges) }),
      ...FAMILIES.map((fam) =>
        rule(
          { kind: 'match', left: f('meta protocol'), right: { kind: 'symbol', value: fam === 4 ? 'ip' : 'ip6' } },
          { kind: 'fwd', family: fam, to: lookup(DSR_NAMES.backends[fam]), device },
        ),
      ),
    ],
  };
}

// The ingress hook of one interface: every DSR listener, whatever its interface (the service chain picks where the
// packet goes out). Only frames addressed to this host: the ingress hook also sees frames a switch floods to every port
// (a MAC it has not learned or has forgotten, such as a balancer that went away), and a second balancer on the segment
// must not forward another one's packets too (the backend would get each of them twice).
function ingressChainOf(k: number, device: string): Chain {
  const host: Stmt = { kind: 'match', left: f('meta pkttype'), right: { kind: 'symbol', value: 'host' } };
  return {
    name: ingressChain(k),
    hook: { type: 'filter', hook: 'ingress', device, priority: 'filter', priorityOffset: 0, policy: 'accept' },
    rules: FAMILIES.flatMap((fam) => [
      rule(host, { kind: 'vmap', key: listenerKey(fam), map: DSR_NAMES.services[fam] }),
      rule(host, { kind: 'vmap', key: listenerKey(fam), map: DSR_NAMES.serviceRanges[fam] }),
    ]),
  };
}

/** A probe map with the family and interface its rule forwards to. */
interface ProbeMap {
  readonly fam: Family;
  readonly device: string;
  readonly set: SetView;
}

// The probe map of one family and interface: VIP . port . source port of a VIP-path health probe -> the backend.
const probeMap = (fam: Family, k: number): Ident => ident(`probes${fam}_${k}`);

// health target: vip. The probe leaves the balancer for the VIP, which is local, so it goes out of lo; lo's egress hook
// matches its VIP, port and source port (one per backend, see VIP_PROBE_PORTS) and sends it to that backend instead. The
// maps exist only when some check asks for it (per family and interface, since `fwd` names its device).
function probeMaps(p: Plan, devices: readonly string[]): ProbeMap[] {
  const out: ProbeMap[] = [];
  devices.forEach((device, k) => {
    for (const fam of FAMILIES) {
      const elements: Element[] = [];
      for (const s of p.services) {
        if (s.dsr?.interface !== device) continue;
        for (const b of s.backends) {
          const v = b.vipCheck;
          if (v !== undefined && b.address.family === fam)
            elements.push(element(`${v.vip.text} . ${v.port} . ${v.sourcePort}`, b.address.text));
        }
      }
      if (elements.length > 0)
        out.push({
          fam,
          device,
          set: {
            kind: 'map',
            name: probeMap(fam, k),
            key: [addrType(fam), 'inet_service', 'inet_service'],
            value: [addrType(fam)],
            flags: [],
            elements,
          },
        });
    }
  });
  return out;
}

// lo's egress hook: a VIP-path probe goes to its backend, every other packet on (a lookup miss ends only its rule).
function probeChain(maps: readonly ProbeMap[]): Chain {
  const key = (fam: Family): Expr => ({ kind: 'concat', parts: [daddr(fam), f('th dport'), f('th sport')] });
  return {
    name: ident('probe_lo'),
    hook: { type: 'filter', hook: 'egress', device: 'lo', priority: 'filter', priorityOffset: 0, policy: 'accept' },
    rules: maps.map(({ fam, device, set }) =>
      rule(
        { kind: 'match', left: f('meta l4proto'), right: { kind: 'symbol', value: 'tcp' } },
        { kind: 'fwd', family: fam, to: { kind: 'map-lookup', key: key(fam), map: set.name }, device },
      ),
    ),
  };
}

// No backend up and on-empty reject: a TCP reset or an ICMP port unreachable, for every packet to the service.
function refuseChain(): Chain {
  return {
    name: DSR_NAMES.refuse,
    rules: [
      rule(
        { kind: 'match', left: f('meta l4proto'), right: { kind: 'symbol', value: 'tcp' } },
        { kind: 'reject', with: 'tcp reset' },
      ),
      rule({ kind: 'reject', with: 'default' }),
    ],
  };
}
