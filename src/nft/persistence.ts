import type { Family } from '../model/types.js';
import { SERVICE_MASK } from '../plan/persistence.js';
import type { Plan, PlannedService, Pool } from '../plan/types.js';
import type { Chain, DataType, Element, Expr, Rule, SetView, Stmt } from './ast.js';
import { ident, type Ident } from './names.js';
import { element } from './render.js';

// Persistence in the table (README.md, Persistence; docs/architecture.md). Entries live in one dynamic map per address
// family and key, shared by every service: a map per service would make the load quadratic (cookbook section 14:
// 10k per-service maps loaded in 5.3 s against 0.8 s without them). An entry maps (service mark, client prefix [, VIP])
// to the tag of a backend (plan/persistence.ts). A new connection of a service with persistence:
//   svc chain:  ct mark set <service mark>, jump to the group's `get` chain;
//   get chain:  look the client up; a tag of a backend that takes new connections now (persist_live) becomes that
//               backend's id, the entry's timeout restarts and the connection is DNATed (goto pick); any other entry
//               is deleted and the chain returns;
//   svc chain:  the scheduler picks (slot or id) and goes to the group's `new` chain;
//   new chain:  slot -> id -> tag, the entry is written, tag -> id, goto pick.
// Every map lookup that returns a value sits in a shared chain: the kernel walks a map's elements each time a rule in
// another chain binds it, so a lookup per service chain would make a reload with many entries quadratic. The writes
// (update, delete) bind without that walk. Groups are the distinct (family, key, netmask, timeout) of the services.

/** Fixed names of the persistence objects. */
export const PERSIST_NAMES = {
  /** tag -> backend id, for the backends that take new connections now (health and config state). */
  live: ident('persist_live'),
  /** backend id -> tag, for every backend of a service with persistence. */
  tags: ident('persist_tags'),
  /** The entries: IPv4 by client, IPv4 by client and VIP, IPv6 by client. */
  v4: ident('persist4'),
  v4daddr: ident('persist4_daddr'),
  v6: ident('persist6'),
} as const;

/** The maps that hold entries: what a reload keeps. */
export const ENTRY_MAPS: readonly Ident[] = [PERSIST_NAMES.v4, PERSIST_NAMES.v4daddr, PERSIST_NAMES.v6];

/** The kernel's element count is an int: a map's capacity is the sum of its services' sizes, at most this. */
export const MAX_MAP_SIZE = 0x7fffffff;

/** The chains and map of the services that share (family, key, netmask, timeout). */
interface Group {
  readonly family: Family;
  /** The VIP is part of the key (key saddr-daddr, IPv4). */
  readonly daddr: boolean;
  readonly netmask: number;
  readonly timeout: number;
  readonly map: Ident;
  readonly get: Ident;
  readonly new: Ident;
}

// The group of one family's pool of a service with persistence. IPv6 keys never hold the VIP (nft 1.0.6 aborts on such
// a key; the config rules allow saddr-daddr only with one IPv6 VIP, where the VIP adds nothing).
function groupOf(s: PlannedService, family: Family): Group {
  const p = s.persistence!;
  const daddr = family === 4 && p.key === 'saddr-daddr';
  const netmask = family === 4 ? p.netmask4 : p.netmask6;
  const stem = `persist_v${family}${daddr ? 'd' : ''}_m${netmask}_t${p.timeout}`;
  return {
    family,
    daddr,
    netmask,
    timeout: p.timeout,
    map: family === 6 ? PERSIST_NAMES.v6 : daddr ? PERSIST_NAMES.v4daddr : PERSIST_NAMES.v4,
    get: ident(`${stem}_get`),
    new: ident(`${stem}_new`),
  };
}

const ctMark: Expr = { kind: 'field', field: 'ct mark' };
const serviceKey: Expr = { kind: 'and', left: ctMark, right: { kind: 'hex', value: SERVICE_MASK } };
const lookup = (key: Expr, map: Ident): Stmt => ({ kind: 'ct-mark-set', value: { kind: 'map-lookup', key, map } });
const goto = (chain: Ident): Stmt => ({ kind: 'verdict', verdict: { kind: 'goto', chain } });

// The first 96 bits of an IPv6 source address (it starts at bit 64 of the header). nft 1.0.6 writes a dynamic map key
// longer than 16 bytes with its last 4 bytes overwritten by the value (measured: `update @m { ct mark . ip6 saddr :
// ct mark }` stored 2001:db8:1::10:a9ab for 2001:db8:1::10), so an IPv6 key is the service mark and these 96 bits.
const SADDR6_96: Expr = { kind: 'raw-nh', offset: 64, length: 96 };

// The key of an entry: the service part of the ct mark, the client address under the netmask [, the VIP].
function entryKey(g: Group, service: Expr): Expr {
  const saddr: Expr = g.family === 4 ? { kind: 'field', field: 'ip saddr' } : SADDR6_96;
  const full = g.netmask === (g.family === 4 ? 32 : 96);
  const mask: Expr =
    g.family === 4
      ? { kind: 'prefix-mask', family: 4, length: g.netmask }
      : { kind: 'hex-mask', bits: 96, length: g.netmask };
  const client: Expr = full ? saddr : { kind: 'and', left: saddr, right: mask };
  const parts = g.daddr ? [service, client, { kind: 'field', field: 'ip daddr' } as Expr] : [service, client];
  return { kind: 'concat', parts };
}

// The chain of one family's pool of a service with persistence (see the top of this file). `limit` are the rules the
// service chain starts with (rate limit), `selector` the scheduler's expression.
export function persistentServiceChain(
  s: PlannedService,
  pool: Pool,
  name: Ident,
  limit: readonly Rule[],
  selector: Expr,
): Chain {
  const g = groupOf(s, pool.family);
  return {
    name,
    rules: [
      ...limit,
      {
        stmts: [
          { kind: 'counter' },
          { kind: 'ct-mark-set', value: { kind: 'hex', value: s.persistence!.mark } },
          { kind: 'verdict', verdict: { kind: 'jump', chain: g.get } },
        ],
      },
      { stmts: [{ kind: 'ct-mark-set', value: selector }, goto(g.new)] },
    ],
  };
}

// Every group of the plan, in the order of first use.
function groups(p: Plan): Group[] {
  const out = new Map<Ident, Group>();
  for (let i = 0; i < p.services.length; i++) {
    const s = p.services[i]!;
    if (s.persistence === undefined) continue;
    for (let j = 0; j < s.pools.length; j++) {
      const g = groupOf(s, s.pools[j]!.family);
      if (!out.has(g.get)) out.set(g.get, g);
    }
  }
  return [...out.values()];
}

// The shared chains of each group. `pick` DNATs by the backend id in the ct mark; `slotStage` turns a slot into a backend
// id (a backend id passes it unchanged).
export function persistenceChains(p: Plan, names: { pick: Ident; slotStage: readonly Rule[] }): Chain[] {
  return groups(p).flatMap((g): Chain[] => {
    const update = (op: 'update' | 'delete'): Stmt => ({
      kind: 'set-update',
      op,
      set: g.map,
      key: entryKey(g, serviceKey),
      ...(op === 'update' ? { timeout: g.timeout } : {}),
      value: ctMark,
    });
    return [
      {
        name: g.get,
        rules: [
          {
            stmts: [
              lookup(entryKey(g, ctMark), g.map),
              update('update'),
              lookup(ctMark, PERSIST_NAMES.live),
              goto(names.pick),
            ],
          },
          { stmts: [update('delete')] },
        ],
      },
      {
        name: g.new,
        rules: [
          ...names.slotStage,
          { stmts: [lookup(ctMark, PERSIST_NAMES.tags)] },
          { stmts: [update('update')] },
          { stmts: [lookup(ctMark, PERSIST_NAMES.live), goto(names.pick)] },
        ],
      },
    ];
  });
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
const generated = <T>(gen: () => Generator<T>): Iterable<T> => ({ [Symbol.iterator]: gen });

// The ids a service's pools select now (in their slots): the backends that take new connections.
function selected(s: PlannedService): Set<number> {
  const out = new Set<number>();
  for (const pool of s.pools) for (let i = 0; i < pool.slots.length; i++) out.add(pool.slots[i]!);
  return out;
}

// The persistence maps of a plan: the entry maps its services use (sized to the sum of their sizes), persist_live and
// persist_tags. None for a plan without persistence, so such a table is exactly what it was before persistence.
export function persistenceSets(p: Plan): SetView[] {
  const services = p.services.filter((s) => s.persistence !== undefined);
  if (services.length === 0) return [];
  const sizes = new Map<Ident, number>();
  let backends = 0;
  for (const s of services) {
    backends += s.backends.length;
    const maps = new Set(s.pools.map((pool) => groupOf(s, pool.family).map));
    for (const m of maps) sizes.set(m, Math.min(MAX_MAP_SIZE, (sizes.get(m) ?? 0) + s.persistence!.size));
  }
  // persist6 is declared by typeof (nft has no type of 96 bits); its key here only documents it.
  const entryType = (m: Ident): DataType[] =>
    m === PERSIST_NAMES.v6
      ? ['mark', 'ipv6_addr']
      : m === PERSIST_NAMES.v4daddr
        ? ['mark', 'ipv4_addr', 'ipv4_addr']
        : ['mark', 'ipv4_addr'];
  const entries = ENTRY_MAPS.filter((m) => sizes.has(m)).map((m): SetView => ({
    kind: 'map',
    name: m,
    key: entryType(m),
    value: ['mark'],
    flags: ['dynamic', 'timeout'],
    ...(m === PERSIST_NAMES.v6 ? { typeof: { key: [ctMark, SADDR6_96], value: ctMark } } : {}),
    size: sizes.get(m)!,
    elements: [],
  }));
  const live = generated(function* (): Generator<Element> {
    for (const s of services) {
      const now = selected(s);
      for (const b of s.backends) if (now.has(b.id)) yield element(hex(b.tag!), String(b.id));
    }
  });
  const tags = generated(function* (): Generator<Element> {
    for (const s of services) for (const b of s.backends) yield element(String(b.id), hex(b.tag!));
  });
  const map = (name: Ident, elements: Iterable<Element>): SetView => ({
    kind: 'map',
    name,
    key: ['mark'],
    value: ['mark'],
    flags: [],
    size: backends,
    elements,
  });
  return [...entries, map(PERSIST_NAMES.live, live), map(PERSIST_NAMES.tags, tags)];
}

// The `new` chain of each group: where a new connection arrives with the scheduler's pick in its ct mark (`nftlb trace`
// reads the mark there, src/nft/trace.ts).
export function persistenceNewChains(p: Plan): Ident[] {
  return groups(p).map((g) => g.new);
}
