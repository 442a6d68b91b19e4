import type { Plan } from '../plan/types.js';
import type { Chain, Expr, Rule, SetView, Stmt } from './ast.js';
import { ident, type Ident } from './names.js';
import { element } from './render.js';

// The forward filter (README.md, Forward filter): with `forward: { policy: drop }` the table gets one filter chain on
// the forward hook that accepts
//   - the connections nftlb balanced, in both directions and with their related ICMP: conntrack says they were DNATed
//     and their reply source is one of the config's backend addresses. Not the backend id in the ct mark: ids follow
//     the config's order and a connection keeps the id it opened with, so a reload that moves ids (a backend or service
//     inserted or removed above others) would drop the replies of every established connection it moved;
//   - the connections opened from the `accept` prefixes (conntrack's original source), in both directions;
// and drops every other forwarded packet with a counter (`nftlb status` shows it). Without the key the table has none
// of these objects, so its script is byte for byte what it was before the filter existed.

/** Fixed names of the forward filter's objects. */
export const FORWARD_NAMES = {
  chain: ident('forward_filter'),
  /** The backends' addresses, per family, each once: what a balanced connection's reply source must be. */
  backends: { 4: ident('forward_backends4'), 6: ident('forward_backends6') },
  /** The accept prefixes, per family. */
  accept: { 4: ident('forward_accept4'), 6: ident('forward_accept6') },
} as const;

const FAMILIES = [4, 6] as const;
const f = (field: Extract<Expr, { kind: 'field' }>['field']): Expr => ({ kind: 'field', field });
const accept: Stmt = { kind: 'verdict', verdict: { kind: 'accept' } };
const generated = <T>(gen: () => Generator<T>): Iterable<T> => ({ [Symbol.iterator]: gen });

// The sets of the filter; none without one.
export function forwardSets(p: Plan): SetView[] {
  if (p.forward === undefined) return [];
  // Each address once, in config order, so that each set's size is what it holds: backends of several services, or on
  // several ports, share an address.
  const addresses = { 4: new Set<string>(), 6: new Set<string>() };
  for (const s of p.services) for (const b of s.backends) addresses[b.address.family].add(b.address.text);
  const prefixes = p.forward.accept;
  return [
    ...FAMILIES.map((fam): SetView => ({
      kind: 'set',
      name: FORWARD_NAMES.backends[fam],
      key: [fam === 4 ? 'ipv4_addr' : 'ipv6_addr'],
      flags: [],
      // Backends never change with health, so each set holds exactly what it is sized for.
      ...(addresses[fam].size > 0 ? { size: addresses[fam].size } : {}),
      elements: generated(function* () {
        for (const a of addresses[fam]) yield element(a);
      }),
    })),
    ...FAMILIES.map((fam): SetView => ({
      kind: 'set',
      name: FORWARD_NAMES.accept[fam],
      key: [fam === 4 ? 'ipv4_addr' : 'ipv6_addr'],
      flags: ['interval'],
      elements: prefixes.filter((x) => x.family === fam).map((x) => element(x.text)),
    })),
  ];
}

// The filter chain; none without a filter. The balanced connections come first: they are most of the traffic.
export function forwardChains(p: Plan): Chain[] {
  if (p.forward === undefined) return [];
  const lookup = (left: Expr, set: Ident): Stmt => ({ kind: 'match', left, right: { kind: 'set-ref', name: set } });
  const dnatted: Stmt = { kind: 'match', left: f('ct status'), right: { kind: 'symbol', value: 'dnat' } };
  const rules: Rule[] = [
    ...FAMILIES.map((fam): Rule => ({
      stmts: [
        dnatted,
        lookup(f(fam === 4 ? 'ct reply ip saddr' : 'ct reply ip6 saddr'), FORWARD_NAMES.backends[fam]),
        accept,
      ],
    })),
    ...FAMILIES.map((fam): Rule => ({
      stmts: [
        lookup(f(fam === 4 ? 'ct original ip saddr' : 'ct original ip6 saddr'), FORWARD_NAMES.accept[fam]),
        accept,
      ],
    })),
    { stmts: [{ kind: 'counter' }, { kind: 'verdict', verdict: { kind: 'drop' } }] },
  ];
  return [
    {
      name: FORWARD_NAMES.chain,
      hook: { type: 'filter', hook: 'forward', priority: 'filter', priorityOffset: 0, policy: 'drop' },
      rules,
    },
  ];
}

/** Packets and bytes the filter dropped since its chain was last written (a full load, or a delta that changed it). */
export interface ForwardDrops {
  readonly packets: number;
  readonly bytes: number;
}
