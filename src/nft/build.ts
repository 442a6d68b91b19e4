import type { Family } from '../model/types.js';
import {
  SLOT_BASE,
  type Plan,
  type PlannedBackend,
  type Pool,
  type PlannedService,
  type Selector,
} from '../plan/types.js';
import {
  HASH_FIELD,
  type DataType,
  type Field,
  type Symbol,
  type Chain,
  type Element,
  type Expr,
  type Rule,
  type SetFlag,
  type SetView,
  type TableView,
  type Stmt,
  type Table,
} from './ast.js';
import { ident, selectorChain, serviceChain as serviceChainName, type Ident } from './names.js';
import { rangeText } from '../model/address.js';
import { element, renderVerdict } from './render.js';
import { persistenceChains, persistenceSets, persistentServiceChain } from './persistence.js';
import { forwardChains, forwardSets } from './forward.js';
import { logChains, logPickRules, logSets } from './log.js';

// Fixed object names inside nftlb's table. Per-service state lives only in per-service chains and map elements.
export const NAMES = {
  services: { 4: ident('services4'), 6: ident('services6') },
  serviceRanges: { 4: ident('services4_ranges'), 6: ident('services6_ranges') },
  slots: ident('slots'),
  slotRanges: ident('slots_ranges'),
  slotBuckets: ident('slot_buckets'),
  backends: { 4: ident('backends4'), 6: ident('backends6') },
  backendsKeepPort: { 4: ident('backends4_keep_port'), 6: ident('backends6_keep_port') },
  masquerade: ident('nat_masquerade'),
  snat: { 4: ident('nat_snat4'), 6: ident('nat_snat6') },
  pick: ident('pick'),
  refuse: ident('refuse'),
  dispatch: ident('dispatch'),
  dispatchPre: ident('dispatch_pre'),
  dispatchOut: ident('dispatch_out'),
  natPost: ident('nat_post'),
  connLimit: ident('conn_limit'),
  limitFwd: ident('limit_fwd'),
  limitIn: ident('limit_in'),
  limitOut: ident('limit_out'),
} as const;

const FAMILIES = [4, 6] as const;
const NO_FLAGS: readonly SetFlag[] = [];
const INTERVAL: readonly SetFlag[] = ['interval'];
const f = (field: Field): Expr => ({ kind: 'field', field });
const sym = (value: Symbol): Expr => ({ kind: 'symbol', value });
const addrType = (fam: Family): DataType => (fam === 4 ? 'ipv4_addr' : 'ipv6_addr');
const daddr = (fam: Family): Expr => f(fam === 4 ? 'ip daddr' : 'ip6 daddr');
const listenerKey = (fam: Family): Expr => ({ kind: 'concat', parts: [daddr(fam), f('meta l4proto'), f('th dport')] });
const rule = (...stmts: Stmt[]): Rule => ({ stmts });
const match = (left: Expr, right: Expr): Stmt => ({ kind: 'match', left, right });

// Builds the whole table for a plan, every part in memory: for incremental updates and tests, which look at a few
// services. The full script renders tableView() instead, which never holds the big parts.
export function buildTable(p: Plan, comment: string): Table {
  const v = tableView(p, comment);
  return { ...v, sets: v.sets.map((set) => ({ ...set, elements: [...set.elements] })), chains: [...v.chains] };
}

// The inet table for a plan. The shape (docs/architecture.md): a verdict map dispatches VIP . proto . port to a per-service chain; that
// chain writes a slot number (or directly a backend id) into the ct mark; one shared chain maps slot -> backend id and
// DNATs through one backend map. Every map is bound by a constant number of rules, so load time grows linearly.
// Elements and chains are generated from the plan each time they are iterated: at 50k services they are a quarter of a
// million objects, which rendering turns into text and drops at once instead of keeping them all alive.
// Nor is anything that rendering drops made ahead of it, in numbers: V8 pretenures an allocation site (allocates where
// it is in the old generation) once most objects of it outlive a young-generation GC, and the old generation's garbage
// stays until a full GC, which a render of 50k services does not reach. A few hundred objects made ahead and kept while
// rendering, at sites the per-service parts use too (element(), rule()), sent every element and rule made after them,
// and the strings they point to, to the old generation: the 391 bucket chains and slot_buckets elements of a 50k render
// made ahead raised its peak RSS from 258 to 302 MB (node --trace-pretenuring-statistics lists such decisions).
export function tableView(p: Plan, comment: string): TableView {
  const sets: SetView[] = [];
  for (const fam of FAMILIES) {
    // Single ports go into a plain hash map, ranges into an interval map: interval maps cost nft far more load time
    // (docs/architecture.md), and most services listen on single ports.
    // Every pool, an empty one too: its chain then marks the connection for its on-empty verdict (emptyMark), so a
    // pool that empties or refills rewrites only its chain.
    const ofFamily = (pool: Pool): boolean => pool.family === fam;
    const target = (s: PlannedService, pool: Pool): string => `goto ${serviceChainName(s.name, pool.family)}`;
    sets.push(listenerMap(p, NAMES.services[fam], fam, ofFamily, target, 'single'));
    sets.push(listenerMap(p, NAMES.serviceRanges[fam], fam, ofFamily, target, 'ranges'));
  }
  sets.push(...bucketSlotMaps(p));
  sets.push(...backendMaps(p.services));
  sets.push(...natObjects(p.services));
  sets.push(...persistenceSets(p));
  // Opt-in objects last, each absent without its key: a table without them is what it was before they existed.
  sets.push(...forwardSets(p), ...logSets(p));

  const buckets = slotBucketList(p.services);
  const chains = generated(function* () {
    for (let i = 0; i < p.services.length; i++) {
      const s = p.services[i]!;
      for (let j = 0; j < s.pools.length; j++) yield* serviceChains(s, s.pools[j]!);
    }
    // The fixed chains too are made as they are reached (see above): a bucket chain per 512 slots, conn_limit's rule
    // per limited backend and a log chain per logging service are many at scale.
    yield pickChain(logPickRules(p));
    for (let i = 0; i < buckets.length; i++) yield bucketChain(buckets[i]!);
    yield refuseChain();
    yield listenerChain();
    yield dispatchChain(NAMES.dispatchPre, 'prerouting');
    yield dispatchChain(NAMES.dispatchOut, 'output');
    yield natPostChain();
    yield* limitChains(p.services);
    yield* persistenceChains(p, { pick: NAMES.pick, slotStage: [slotStage()] });
    yield* forwardChains(p);
    yield* logChains(p);
  });
  return { family: 'inet', name: ident(p.table), comment, sets, chains };
}

// An iterable that runs the generator anew on every iteration (a plain generator object can be iterated only once).
// The generators below loop by index: for-of inside a generator allocates an iterator per loop (docs/architecture.md).
export const generated = <T>(gen: () => Generator<T>): Iterable<T> => ({ [Symbol.iterator]: gen });

// VIP . protocol . port -> verdict for the pools `included` picks, single ports or ranges (the netdev table uses it too).
export function listenerMap(
  p: Plan,
  name: SetView['name'],
  fam: Family,
  included: (pool: Pool) => boolean,
  target: (s: PlannedService, pool: Pool) => string,
  ports: 'single' | 'ranges' | 'all' = 'all',
): SetView {
  const elements = generated(function* () {
    for (let i = 0; i < p.services.length; i++) {
      const s = p.services[i]!;
      for (let j = 0; j < s.pools.length; j++) {
        const pool = s.pools[j]!;
        if (!included(pool)) continue;
        const value = target(s, pool);
        for (let a = 0; a < pool.vips.length; a++) {
          for (let b = 0; b < s.protocols.length; b++) {
            for (let c = 0; c < s.ports.length; c++) {
              const port = s.ports[c]!;
              if ((ports === 'single' && port.first !== port.last) || (ports === 'ranges' && port.first === port.last))
                continue;
              yield element(`${pool.vips[a]!.text} . ${s.protocols[b]!} . ${rangeText(port.first, port.last)}`, value);
            }
          }
        }
      }
    }
  });
  // A hash map (single ports) is sized for every single-port listener of the family (the DSR table moves a listener
  // between two of its maps with health; the inet table lists every listener in these).
  let most = 0;
  if (ports === 'single') {
    for (let i = 0; i < p.services.length; i++) {
      const s = p.services[i]!;
      let single = 0;
      for (let c = 0; c < s.ports.length; c++) if (s.ports[c]!.first === s.ports[c]!.last) single++;
      for (let j = 0; j < s.pools.length; j++) {
        if (s.pools[j]!.family === fam) most += s.pools[j]!.vips.length * s.protocols.length * single;
      }
    }
  }
  return {
    kind: 'map',
    name,
    key: [addrType(fam), 'inet_proto', 'inet_service'],
    value: 'verdict',
    flags: ports !== 'single' ? INTERVAL : NO_FLAGS,
    ...sized(most),
    elements,
  };
}

// nft `size` for a hash map that can hold at most `most` elements (none when it stays empty).
export const sized = (most: number): { size?: number } => (most > 0 ? { size: most } : {});

// slot -> backend id. A pool whose slots mostly differ from their neighbours (equal weights, Maglev) goes into a plain
// hash map, one element per slot; a pool with long runs (weighted random or hash: one run per backend) into an interval
// map, one element per run. Interval maps cost nft several times more load time per element, and most pools are the
// first kind. Pools with direct selection have no slot elements.
export function slotMaps(p: Plan): SetView[] {
  // Pools without direct selection: few (weights, a backend down, Maglev), so a list is cheap.
  let list: Pool[] | undefined;
  const pools = (): Pool[] => {
    if (list !== undefined) return list;
    list = [];
    for (let i = 0; i < p.services.length; i++) {
      const ps = p.services[i]!.pools;
      for (let j = 0; j < ps.length; j++) if (directBase(ps[j]!) === undefined) list.push(ps[j]!);
    }
    return list;
  };
  const single = generated(function* () {
    for (const pool of pools()) {
      if (!asSingles(pool)) continue;
      for (let i = 0; i < pool.slots.length; i++) yield element(String(pool.slotBase + i), String(pool.slots[i]!));
    }
  });
  const ranges = generated(function* () {
    for (const pool of pools()) {
      if (!asSingles(pool)) for (const r of runsOf(pool)) yield element(rangeText(r.first, r.last), String(r.id));
    }
  });
  // Every pool may need its single slots (a backend down turns direct selection into slots); never more than capacity.
  let most = 0;
  for (let i = 0; i < p.services.length; i++) {
    const pools = p.services[i]!.pools;
    for (let j = 0; j < pools.length; j++) most += pools[j]!.capacity;
  }
  return [
    {
      kind: 'map',
      name: NAMES.slots,
      key: ['mark'],
      value: ['mark'],
      flags: NO_FLAGS,
      ...sized(most),
      elements: single,
    },
    { kind: 'map', name: NAMES.slotRanges, key: ['mark'], value: ['mark'], flags: INTERVAL, elements: ranges },
  ];
}

// backend id -> address . port (or address alone when the connection keeps its port), per family. Down backends stay
// listed so a state change only touches the slot map.
function backendMaps(services: readonly PlannedService[]): SetView[] {
  const of = (fam: Family, keep: boolean): Iterable<Element> =>
    generated(function* () {
      for (let i = 0; i < services.length; i++) {
        const backends = services[i]!.backends;
        for (let j = 0; j < backends.length; j++) {
          const b = backends[j]!;
          if (b.address.family !== fam || (b.port === undefined) !== keep) continue;
          yield element(String(b.id), b.port === undefined ? b.address.text : `${b.address.text} . ${b.port}`);
        }
      }
    });
  // These maps never change after the load, so each is sized to exactly what it holds.
  const count = { 4: [0, 0], 6: [0, 0] };
  for (let i = 0; i < services.length; i++) {
    const backends = services[i]!.backends;
    for (let j = 0; j < backends.length; j++)
      count[backends[j]!.address.family][backends[j]!.port === undefined ? 1 : 0]!++;
  }
  return FAMILIES.flatMap((fam): SetView[] => [
    {
      kind: 'map',
      name: NAMES.backends[fam],
      key: ['mark'],
      value: [addrType(fam), 'inet_service'],
      flags: NO_FLAGS,
      ...sized(count[fam][0]!),
      elements: count[fam][0] === 0 ? [] : of(fam, false),
    },
    {
      kind: 'map',
      name: NAMES.backendsKeepPort[fam],
      key: ['mark'],
      value: [addrType(fam)],
      flags: NO_FLAGS,
      ...sized(count[fam][1]!),
      elements: count[fam][1] === 0 ? [] : of(fam, true),
    },
  ]);
}

// Backend-id ranges per NAT mode; a service's ids are contiguous, so one interval per service. Adjacent masquerade
// intervals are merged: nft refuses overlapping intervals and folds adjacent ones on listing, so merging here keeps
// script and listing alike.
function natObjects(services: readonly PlannedService[]): SetView[] {
  const masq = generated(function* () {
    let run: { first: number; last: number } | undefined;
    for (let i = 0; i < services.length; i++) {
      const s = services[i]!;
      const first = s.backends[0]?.id;
      const last = s.backends[s.backends.length - 1]?.id;
      if (s.nat.kind !== 'masquerade' || first === undefined || last === undefined) continue;
      if (run !== undefined && run.last + 1 === first) run.last = last;
      else {
        if (run !== undefined) yield element(rangeText(run.first, run.last));
        run = { first, last };
      }
    }
    if (run !== undefined) yield element(rangeText(run.first, run.last));
  });
  const snat = (fam: Family): Iterable<Element> =>
    generated(function* () {
      for (let i = 0; i < services.length; i++) {
        const s = services[i]!;
        const first = s.backends[0]?.id;
        const last = s.backends[s.backends.length - 1]?.id;
        if (s.nat.kind !== 'snat' || first === undefined || last === undefined) continue;
        for (const a of s.nat.addresses) if (a.family === fam) yield element(rangeText(first, last), a.text);
      }
    });
  return [
    { kind: 'set', name: NAMES.masquerade, key: ['mark'], flags: INTERVAL, elements: masq },
    ...FAMILIES.map((fam): SetView => ({
      kind: 'map',
      name: NAMES.snat[fam],
      key: ['mark'],
      value: [addrType(fam)],
      flags: INTERVAL,
      elements: snat(fam),
    })),
  ];
}

// A pool's slots as runs of one backend id.
function runsOf(pool: Pool): { first: number; last: number; id: number }[] {
  const runs = [];
  let start = 0;
  for (let i = 1; i <= pool.slots.length; i++) {
    if (i === pool.slots.length || pool.slots[i] !== pool.slots[start]) {
      runs.push({ first: pool.slotBase + start, last: pool.slotBase + i - 1, id: pool.slots[start]! });
      start = i;
    }
  }
  return runs;
}

// One element per slot (a hash map) rather than one per run (an interval map): when the runs are short.
function asSingles(pool: Pool): boolean {
  let runs = pool.slots.length === 0 ? 0 : 1;
  for (let i = 1; i < pool.slots.length; i++) if (pool.slots[i] !== pool.slots[i - 1]) runs++;
  return pool.slots.length <= 2 * runs;
}

/** log2 of the slot numbers per bucket of the inet table's slot maps (see bucketSlotMaps). */
export const SLOT_BUCKET_BITS = 9;
const BUCKET_WIDTH = 2 ** SLOT_BUCKET_BITS;

// The bucket of a slot number: its slot number shifted right, as `ct mark >> 9` reads it (backend ids, below
// SLOT_BASE, fall into buckets that hold no slots).
export const slotBucket = (slot: number): number => Math.floor(slot / BUCKET_WIDTH);

/** The names of one slot bucket's maps (`slots_K`, `slots_ranges_K`) and chain (`slot_K`), K counted from SLOT_BASE. */
export function bucketNames(bucket: number): { slots: Ident; slotRanges: Ident; chain: Ident } {
  const k = bucket - slotBucket(SLOT_BASE);
  return { slots: ident(`slots_${k}`), slotRanges: ident(`slots_ranges_${k}`), chain: ident(`slot_${k}`) };
}

// The buckets a pool reserves slots in (its slot range never depends on health).
export function poolBuckets(pool: Pool): number[] {
  if (pool.capacity === 0) return [];
  const out: number[] = [];
  for (let b = slotBucket(pool.slotBase); b <= slotBucket(pool.slotBase + pool.capacity - 1); b++) out.push(b);
  return out;
}

// The slot elements of the pools that select through slots, in the buckets they fall in: one per slot, or one per run
// (a run that crosses into the next bucket is cut there). `only`: the bucket to list, or every bucket.
export function slotElements(
  pools: Iterable<Pool>,
  only?: number,
): { single: Map<number, Element[]>; ranges: Map<number, Element[]> } {
  const single = new Map<number, Element[]>();
  const ranges = new Map<number, Element[]>();
  for (const pool of pools) {
    if (!slotted(pool)) continue;
    const asRuns = !asSingles(pool);
    const m = asRuns ? ranges : single;
    for (let b = slotBucket(pool.slotBase); b <= slotBucket(pool.slotBase + pool.slots.length - 1); b++) {
      if (only !== undefined && b !== only) continue;
      for (const el of poolSlotElements(pool, b, asRuns)) {
        let l = m.get(b);
        if (l === undefined) m.set(b, (l = []));
        l.push(el);
      }
    }
  }
  return { single, ranges };
}

// A pool that selects through slots, and has some.
const slotted = (pool: Pool): boolean => directBase(pool) === undefined && pool.slots.length > 0;

// The slot elements of one pool in bucket b: one per slot, or (asRuns) one per run of one backend id, cut at the
// bucket's edges.
function* poolSlotElements(pool: Pool, b: number, asRuns: boolean): Generator<Element> {
  const lo = Math.max(pool.slotBase, b * BUCKET_WIDTH) - pool.slotBase;
  const hi = Math.min(pool.slotBase + pool.slots.length, (b + 1) * BUCKET_WIDTH) - pool.slotBase;
  if (!asRuns) {
    for (let i = lo; i < hi; i++) yield element(String(pool.slotBase + i), String(pool.slots[i]!));
    return;
  }
  let start = lo;
  for (let i = lo + 1; i <= hi; i++) {
    if (i === hi || pool.slots[i] !== pool.slots[start]) {
      yield element(rangeText(pool.slotBase + start, pool.slotBase + i - 1), String(pool.slots[start]!));
      start = i;
    }
  }
}

// slot -> backend id in the inet table, as slotMaps but in buckets of 512 slot numbers, each with its own pair of maps
// and a chain that looks the slot up in them; `slot_buckets` (a hash map: `ct mark >> 9` -> jump to the bucket's chain)
// sends pick there. A membership change that takes slot elements out then empties the maps of the buckets it touches
// and adds their elements again (`flush map`: 512 elements at most) instead of deleting elements: nft 1.0.6 fetches
// every chain of the ruleset before any `delete` (40-50 ms at 50k services), but only the table and the sets for a
// flush. Also in slot_buckets: the on-empty marks (EMPTY_MARK), to their verdicts.
// Every element is made as the render reaches it (see tableView): only the pools are listed ahead, by bucket.
function bucketSlotMaps(p: Plan): SetView[] {
  const capacity = new Map<number, number>();
  // The pools with slot elements in each bucket, in plan order, by the kind of map they go in.
  const single = new Map<number, Pool[]>();
  const ranges = new Map<number, Pool[]>();
  for (let i = 0; i < p.services.length; i++) {
    const ps = p.services[i]!.pools;
    for (let j = 0; j < ps.length; j++) {
      const pool = ps[j]!;
      const end = pool.slotBase + pool.capacity;
      for (const b of poolBuckets(pool)) {
        const inside = Math.min(end, (b + 1) * BUCKET_WIDTH) - Math.max(pool.slotBase, b * BUCKET_WIDTH);
        capacity.set(b, (capacity.get(b) ?? 0) + inside);
      }
      if (!slotted(pool)) continue;
      const m = asSingles(pool) ? single : ranges;
      for (let b = slotBucket(pool.slotBase); b <= slotBucket(pool.slotBase + pool.slots.length - 1); b++) {
        const l = m.get(b);
        if (l === undefined) m.set(b, [pool]);
        else l.push(pool);
      }
    }
  }
  const elementsOf = (m: Map<number, Pool[]>, b: number, asRuns: boolean): Iterable<Element> =>
    generated(function* () {
      const pools = m.get(b) ?? [];
      for (let i = 0; i < pools.length; i++) yield* poolSlotElements(pools[i]!, b, asRuns);
    });
  const out: SetView[] = [
    {
      kind: 'map',
      name: NAMES.slotBuckets,
      key: ['mark'],
      value: 'verdict',
      flags: NO_FLAGS,
      ...sized(capacity.size + 2),
      elements: generated(function* () {
        for (const b of capacity.keys()) yield element(String(b), `jump ${bucketNames(b).chain}`);
        yield element(String(slotBucket(EMPTY_MARK.refuse)), renderVerdict({ kind: 'jump', chain: NAMES.refuse }));
        yield element(String(slotBucket(EMPTY_MARK.drop)), renderVerdict({ kind: 'drop' }));
      }),
    },
  ];
  for (const [b, size] of capacity) {
    const n = bucketNames(b);
    out.push(
      {
        kind: 'map',
        name: n.slots,
        key: ['mark'],
        value: ['mark'],
        flags: NO_FLAGS,
        size,
        elements: elementsOf(single, b, false),
      },
      {
        kind: 'map',
        name: n.slotRanges,
        key: ['mark'],
        value: ['mark'],
        flags: INTERVAL,
        elements: elementsOf(ranges, b, true),
      },
    );
  }
  return out;
}

// The buckets of the slot maps, in order (the chains to emit).
function slotBucketList(services: readonly PlannedService[]): number[] {
  const seen = new Set<number>();
  for (const s of services) for (const pool of s.pools) for (const b of poolBuckets(pool)) seen.add(b);
  return [...seen];
}

// The pools of the plan with slots in bucket b, found from service i (which has some there): neighbours in the plan,
// since slot ranges grow with the service index.
export function bucketPools(p: Plan, i: number, b: number): Pool[] {
  const has = (s: PlannedService): boolean => s.pools.some((pool) => poolBuckets(pool).includes(b));
  let first = i;
  while (first > 0 && has(p.services[first - 1]!)) first--;
  let last = i;
  while (last + 1 < p.services.length && has(p.services[last + 1]!)) last++;
  const out: Pool[] = [];
  for (let j = first; j <= last; j++)
    for (const pool of p.services[j]!.pools) if (poolBuckets(pool).includes(b)) out.push(pool);
  return out;
}

// A bucket's chain: the slot of the ct mark to a backend id (a slot is in exactly one of the two maps).
function bucketChain(b: number): Chain {
  const n = bucketNames(b);
  return {
    name: n.chain,
    rules: [
      rule({ kind: 'ct-mark-set', value: { kind: 'map-lookup', key: f('ct mark'), map: n.slots } }),
      rule({ kind: 'ct-mark-set', value: { kind: 'map-lookup', key: f('ct mark'), map: n.slotRanges } }),
    ],
  };
}

// The expression of a pool's selector, yielding base + slot (the netdev table uses it too).
export function selectorExpr(sel: Selector, fam: Family, base: number): Expr {
  switch (sel.kind) {
    case 'constant':
      return { kind: 'number', value: base };
    case 'numgen':
      return { kind: 'numgen', mode: sel.mode, mod: sel.mod, offset: base };
    case 'jhash': {
      const parts = sel.fields.map((h) => f(HASH_FIELD[fam][h]));
      const input: Expr = parts.length === 1 ? parts[0]! : { kind: 'concat', parts };
      return { kind: 'jhash', input, mod: sel.mod, seed: sel.seed, offset: base };
    }
    case 'symhash':
      return { kind: 'symhash', mod: sel.mod, offset: base };
  }
}

// A nat chain sees only the first packet of a connection, so the rate limit here counts new connections; the ones over
// it are dropped before they get a backend (the client's SYN retransmit is a new try).
// When a pool's slots are consecutive backend ids (equal weights, every backend up: the common case), the selector can
// yield the backend id itself; the pool then needs no slot elements, which is most of the table at scale.
export function directBase(pool: Pool): number | undefined {
  const first = pool.slots[0];
  if (first === undefined || pool.selector === null) return undefined;
  for (let i = 1; i < pool.slots.length; i++) if (pool.slots[i] !== first + i) return undefined;
  return first;
}

// The ct marks of a new connection to a pool with no backend up, by its on-empty verdict: above every slot and backend
// id, in buckets of their own that slot_buckets maps to the verdict (so pick, where the connection ends up, rejects or
// drops it). Only new connections go through the nat chains: those established before the last backend went down keep
// flowing.
export const EMPTY_MARK = { refuse: 0xfffffc00, drop: 0xfffffe00 } as const;
const emptyMark = (s: PlannedService): number => (s.onEmpty === 'drop' ? EMPTY_MARK.drop : EMPTY_MARK.refuse);

// A constant ct mark as a service chain writes it: `numgen random mod 1 offset N`, not `N`. A constant is an immediate
// expression, which (as a verdict would) makes the kernel validate every chain reachable from the base chains when the
// rule is added: 15.9 ms at 50k services against 0.8 ms for the numgen (test/bench/update-forms.ts). A random number
// modulo 1 is 0 and keeps no state shared between CPUs.
const constantMark = (value: number): Expr => ({ kind: 'numgen', mode: 'random', mod: 1, offset: value });

// The chains of one pool: its service chain, and for a service with a rate limit (whose `drop` stays in the service
// chain) the selector chain that chain jumps to.
function serviceChains(s: PlannedService, pool: Pool): Chain[] {
  const name = serviceChainName(s.name, pool.family);
  const sel = pool.selector;
  const rate = s.rateLimit;
  const limit: Rule[] =
    rate === undefined
      ? []
      : [
          rule(
            { kind: 'limit-over', perSecond: rate.perSecond, burst: rate.burst },
            { kind: 'counter' },
            { kind: 'verdict', verdict: { kind: 'drop' } },
          ),
        ];
  if (sel !== null && s.persistence !== undefined)
    return [
      persistentServiceChain(s, pool, name, limit, selectorExpr(sel, pool.family, directBase(pool) ?? pool.slotBase)),
    ];
  // No verdict: the chain returns to the dispatch chain, which goes to pick (listenerChain). A membership change
  // rewrites this chain, and a rule with a verdict, a map lookup or a constant makes the kernel validate every chain
  // reachable from the base chains at commit, i.e. every service chain: 16-55 ms at 50k services against 0.8 ms without.
  // A pool with no backend up writes its on-empty mark.
  const mark =
    sel === null
      ? constantMark(emptyMark(s))
      : sel.kind === 'constant'
        ? constantMark(directBase(pool) ?? pool.slotBase)
        : selectorExpr(sel, pool.family, directBase(pool) ?? pool.slotBase);
  const write = (...counter: Stmt[]): Rule => rule(...counter, { kind: 'ct-mark-set', value: mark });
  if (rate === undefined) return [{ name, rules: [write({ kind: 'counter' })] }];
  // The counter stays in the service chain (status reads its chains' counters); the selector chain holds the mark.
  const selName = selectorChain(s.name, pool.family);
  return [
    {
      name,
      rules: [...limit, rule({ kind: 'counter' }, { kind: 'verdict', verdict: { kind: 'jump', chain: selName } })],
    },
    { name: selName, rules: [write()] },
  ];
}

// max-connections: after DNAT the ct mark is the backend id, so one rule per limited backend counts the new connections
// that reached it (ct count keeps one list per rule). Forwarded, local-backend and local-client connections all go
// through the one conn_limit chain, so each backend has one count. Emitted only when some backend has a limit.
function limitChains(services: readonly PlannedService[]): Chain[] {
  const limited: PlannedBackend[] = [];
  for (const s of services) for (const b of s.backends) if (b.maxConnections !== undefined) limited.push(b);
  if (limited.length === 0) return [];
  const enter = (name: Chain['name'], hook: 'forward' | 'input' | 'output'): Chain => ({
    name,
    hook: { type: 'filter', hook, priority: 'filter', priorityOffset: 0, policy: 'accept' },
    rules: [
      rule(match(f('ct state'), sym('new')), match(f('ct status'), sym('dnat')), {
        kind: 'verdict',
        verdict: { kind: 'jump', chain: NAMES.connLimit },
      }),
    ],
  });
  return [
    {
      name: NAMES.connLimit,
      rules: limited.map((b) =>
        rule(
          match(f('ct mark'), { kind: 'number', value: b.id }),
          { kind: 'ct-count-over', over: b.maxConnections! },
          { kind: 'counter' },
          { kind: 'verdict', verdict: { kind: 'goto', chain: NAMES.refuse } },
        ),
      ),
    },
    enter(NAMES.limitFwd, 'forward'),
    enter(NAMES.limitIn, 'input'),
    enter(NAMES.limitOut, 'output'),
  ];
}

// Turns a slot in the ct mark into a backend id through its bucket's chain; a backend id (below SLOT_BASE) is in no
// bucket and passes unchanged.
export const slotStage = (): Rule =>
  rule({
    kind: 'vmap',
    key: { kind: 'shift-right', left: f('ct mark'), bits: SLOT_BUCKET_BITS },
    map: NAMES.slotBuckets,
  });

// The one chain that binds the slot and backend maps. A lookup miss ends only its own rule, so the keep-port maps are
// consulted only for backends that are not in the address . port map. `beforeNat` runs once the ct mark is the backend
// id (the connection log, src/nft/log.ts).
function pickChain(beforeNat: readonly Rule[]): Chain {
  const rules: Rule[] = [slotStage(), ...beforeNat];
  for (const fam of FAMILIES) {
    const nf = match(f('meta nfproto'), sym(fam === 4 ? 'ipv4' : 'ipv6'));
    const lookup = (map: SetView['name']): Expr => ({ kind: 'map-lookup', key: f('ct mark'), map });
    rules.push(
      rule(nf, match(f('meta l4proto'), { kind: 'anon-set', items: [sym('tcp'), sym('udp')] }), {
        kind: 'nat',
        type: 'dnat',
        family: fam,
        to: lookup(NAMES.backends[fam]),
      }),
    );
    rules.push(rule(nf, { kind: 'nat', type: 'dnat', family: fam, to: lookup(NAMES.backendsKeepPort[fam]) }));
  }
  return { name: NAMES.pick, rules };
}

function refuseChain(): Chain {
  return {
    name: NAMES.refuse,
    rules: [
      rule(match(f('meta l4proto'), sym('tcp')), { kind: 'reject', with: 'tcp reset' }),
      rule({ kind: 'reject', with: 'default' }),
    ],
  };
}

// nft 1.0.6 accepts the name dstnat (-100) only on prerouting; the output hook gets the number.
const dstnat = (hook: 'prerouting' | 'output'): 'dstnat' | number => (hook === 'prerouting' ? 'dstnat' : -100);

// The listener lookup both dispatch chains jump to. A listener's `goto svc_...` ends, once its service chain has set the
// ct mark, back in the dispatch chain after its `jump` (a goto leaves no return point of its own), which then goes to
// pick; a packet to no listener meets the `accept` here instead, as it met the end of the dispatch chain before.
function listenerChain(): Chain {
  return {
    name: NAMES.dispatch,
    rules: [
      ...FAMILIES.flatMap((fam) => [
        rule({ kind: 'vmap', key: listenerKey(fam), map: NAMES.services[fam] }),
        rule({ kind: 'vmap', key: listenerKey(fam), map: NAMES.serviceRanges[fam] }),
      ]),
      rule({ kind: 'verdict', verdict: { kind: 'accept' } }),
    ],
  };
}

function dispatchChain(name: Chain['name'], hook: 'prerouting' | 'output'): Chain {
  return {
    name,
    hook: { type: 'nat', hook, priority: dstnat(hook), priorityOffset: 0, policy: 'accept' },
    rules: [
      rule({ kind: 'verdict', verdict: { kind: 'jump', chain: NAMES.dispatch } }),
      rule({ kind: 'verdict', verdict: { kind: 'goto', chain: NAMES.pick } }),
    ],
  };
}

function natPostChain(): Chain {
  const dnatted = match(f('ct status'), sym('dnat'));
  return {
    name: NAMES.natPost,
    hook: { type: 'nat', hook: 'postrouting', priority: 'srcnat', priorityOffset: 0, policy: 'accept' },
    rules: [
      rule(dnatted, match(f('ct mark'), { kind: 'set-ref', name: NAMES.masquerade }), { kind: 'masquerade' }),
      ...FAMILIES.map((fam) =>
        rule(dnatted, match(f('meta nfproto'), sym(fam === 4 ? 'ipv4' : 'ipv6')), {
          kind: 'nat',
          type: 'snat',
          family: fam,
          to: { kind: 'map-lookup', key: f('ct mark'), map: NAMES.snat[fam] },
        }),
      ),
    ],
  };
}
