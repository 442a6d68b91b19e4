import type { Chain, Element, SetDecl, Table, TableRef, TableView } from './ast.js';
import { renderCommands, type Command } from './commands.js';
import { bucketNames, bucketPools, buildTable, NAMES, poolBuckets, slotElements } from './build.js';
import { PERSIST_NAMES } from './persistence.js';
import { DSR_NAMES, dsrInterfaces, dsrTableView } from './dsr.js';
import { parseSelectorChain, parseServiceChain, type Ident } from './names.js';
import { dsrTableRef, inetTableRef } from './tables.js';
import { renderElement, renderElementKey, renderRule } from './render.js';
import type { Plan, PlannedBackend, PlannedService } from '../plan/types.js';

/** What an incremental update touches, for logs and tests. */
export interface IncrementalUpdate {
  /** The commands of the update (one transaction); none when the two plans load the same table. */
  readonly commands: readonly Command[];
  /** The commands as an nft script, or null when there are none. */
  readonly script: string | null;
  /** Names of the services whose pools changed. */
  readonly services: readonly string[];
}

// The same in the DSR netdev table: listener maps (open and closed pools alike) and slot maps.
const DSR_TOUCHED_SETS: readonly Ident[] = [
  DSR_NAMES.services[4],
  DSR_NAMES.services[6],
  DSR_NAMES.serviceRanges[4],
  DSR_NAMES.serviceRanges[6],
  NAMES.slots,
  NAMES.slotRanges,
];

// Per-service objects a membership change can touch; backend maps and NAT sets list every backend whatever its health.
const TOUCHED_SETS: readonly Ident[] = [
  NAMES.services[4],
  NAMES.services[6],
  NAMES.serviceRanges[4],
  NAMES.serviceRanges[6],
  // Persistence: the backends whose entries may be used follow the pools (absent from tables without persistence).
  PERSIST_NAMES.live,
];

// Given the plan that is loaded and the plan after a membership change (same config, other health verdicts), writes one
// nft script that rewrites only what differs: the changed pools' slot elements and chains, and their listener elements
// when a pool empties or refills. Deletions come first, so replaced intervals never overlap within the transaction.
// The command forms are chosen for what nft 1.0.6 fetches from the kernel before it runs a script (its cache, the union
// over all commands): `flush chain` nothing; `add chain` with a rule block and `add map` with a declaration and
// `elements = { }` the table list only; but `add rule` and `add element` every chain of the ruleset (a cost that grows with
// the number of services, docs/architecture.md), and any `delete` the same. So rules go in `add chain X { }` blocks (nft turns them into
// rule commands after the cache is fetched) and additions in `add map` (an existing map with the same type and flags is
// kept as is, its size too); only a script with a deletion pays for the chain list.
// `only`: the indexes of the services that may differ (the others must be equal in both plans, e.g. the very same
// objects); only those are compared, so the work follows the number of changed services. Without it, all are.
// Throws when the plans are not of the same config (the caller then replaces the whole table).
export function incrementalUpdate(before: Plan, after: Plan, only?: readonly number[]): IncrementalUpdate {
  if (before.table !== after.table || before.services.length !== after.services.length)
    throw new Error('plans of different configs');
  const changed: number[] = [];
  for (const i of only ?? before.services.keys()) {
    const s = before.services[i];
    const t = after.services[i];
    if (s === undefined || t === undefined) throw new Error(`no service ${i} in the plans`);
    if (s === t) continue;
    if (s.name !== t.name || !sameShape(s, t)) throw new Error(`service ${s.name}: plans of different configs`);
    if (JSON.stringify(s.pools) !== JSON.stringify(t.pools)) changed.push(i);
  }
  if (changed.length === 0) return { commands: [], script: null, services: [] };
  // NAT services live in the inet table, DSR ones in the netdev table: each table gets the changes of its services.
  const nat = changed.filter((i) => after.services[i]!.dsr === undefined);
  const dsr = changed.filter((i) => after.services[i]!.dsr !== undefined);
  const pick = (p: Plan, is: readonly number[]): Plan => ({ table: p.table, services: is.map((i) => p.services[i]!) });
  const parts: TableChanges[] = [];
  if (nat.length > 0) {
    // The slot maps of the changed services' buckets; a bucket that loses an element is emptied and refilled whole.
    const buckets = new Map<number, number>();
    for (const i of nat)
      for (const pool of after.services[i]!.pools) for (const b of poolBuckets(pool)) buckets.set(b, i);
    const refill = new Map<Ident, Element[]>();
    for (const [b, i] of buckets) {
      const els = slotElements(bucketPools(after, i, b), b);
      refill.set(bucketNames(b).slots, els.single.get(b) ?? []);
      refill.set(bucketNames(b).slotRanges, els.ranges.get(b) ?? []);
    }
    parts.push(
      tableChanges(
        buildTable(pick(before, nat), ''),
        buildTable(pick(after, nat), ''),
        [...TOUCHED_SETS, ...refill.keys()],
        refill,
      ),
    );
  }
  if (dsr.length > 0) {
    // The fwd chain a service goes to is numbered among all DSR interfaces, not only the changed services' ones.
    const devices = dsrInterfaces(after);
    const netdev = (p: Plan): Table => materialize(dsrTableView(pick(p, dsr), dsrTableRef(p.table).name, '', devices));
    parts.push(tableChanges(netdev(before), netdev(after), DSR_TOUCHED_SETS));
  }
  // Element deletions first (they may reference chains about to go), then chains, then additions (may reference new
  // chains), across both tables.
  const body = [...parts.flatMap((x) => x.del), ...parts.flatMap((x) => x.chainOps), ...parts.flatMap((x) => x.add)];
  // `add table` of the inet table (a no-op on the live table: no flags, its comment stays) first: without it, when the
  // table is gone, nft stops at the first `add chain` or `add map` (it checks their table against its table list)
  // before the kernel sees the guard (nftlb health's, in the inet table), so the caller could not tell a deleted table
  // from a refused update by the guard's line in the error. Never for the netdev table: when that one is gone, nft's
  // refusal is what makes the caller load the whole script (`add map` would otherwise build a bare table).
  const commands: Command[] =
    body.length === 0 ? [] : [{ kind: 'table', verb: 'add', table: inetTableRef(after.table) }, ...body];
  return {
    commands,
    script: commands.length === 0 ? null : renderCommands(commands),
    services: changed.map((i) => after.services[i]!.name),
  };
}

/** The commands that bring one table from `old` to `neu`, by kind (see incrementalUpdate for their order). */
interface TableChanges {
  readonly del: Command[];
  readonly chainOps: Command[];
  readonly add: Command[];
}

// A whole table in memory (its elements and chains listed once): the delta compares two of them.
function materialize(v: TableView): Table {
  return { ...v, sets: v.sets.map((set) => ({ ...set, elements: [...set.elements] })), chains: [...v.chains] };
}

// Elements a bucket's map may get back after a flush before deleting the ones that go costs less.
const REFILL_AT_MOST = 4096;

// Element changes of the `touched` maps and the per-pool chains that differ between two builds of one table. A map in
// `refill` (name -> every element it must hold) that would lose elements is flushed and given those elements instead:
// nft 1.0.6 fetches every chain of the ruleset for a `delete`, only the table and the map for a `flush`.
function tableChanges(
  old: Table,
  neu: Table,
  touched: readonly Ident[],
  refill: ReadonlyMap<Ident, readonly Element[]> = new Map(),
): TableChanges {
  const table: TableRef = { family: neu.family, name: neu.name };
  const del: Command[] = [];
  const add: Command[] = [];
  for (const name of touched) {
    const o = elementsByKey(old.sets, name);
    const n = elementsByKey(neu.sets, name);
    const gone = [...o].filter(([k, el]) => !sameElement(n.get(k), el)).map(([, el]) => el);
    const come = [...n].filter(([k, el]) => !sameElement(o.get(k), el)).map(([, el]) => el);
    // Refilling costs nft a parse of every element the map keeps: worth it while that is small (a bucket of equal-weight
    // pools holds at most a few hundred) or not much more than the change itself (a Maglev table of 65537 slots).
    const whole = refill.get(name);
    const flush =
      gone.length > 0 &&
      whole !== undefined &&
      (whole.length <= REFILL_AT_MOST || whole.length <= 2 * (gone.length + come.length));
    if (flush) del.push({ kind: 'set', verb: 'flush', table, set: { kind: 'map', name } });
    else if (gone.length > 0) del.push({ kind: 'elements', verb: 'delete', table, set: name, elements: gone });
    const adding = flush ? whole : come;
    // A membership change never changes a map's size; the kernel keeps an existing map's size when none is given.
    if (adding.length > 0)
      add.push({
        kind: 'set',
        verb: 'add',
        table,
        set: { ...declaration(neu.sets, name), elements: adding },
        withoutSize: true,
      });
  }
  const oc = chainsByName(old.chains);
  const nc = chainsByName(neu.chains);
  const chainOps: Command[] = [];
  for (const [name] of oc) if (!nc.has(name)) chainOps.push({ kind: 'chain', verb: 'delete', table, chain: { name } });
  for (const [name, c] of nc) {
    const prev = oc.get(name);
    const rules = c.rules.map(renderRule);
    if (prev === undefined) chainOps.push({ kind: 'chain', verb: 'add', table, chain: c });
    else if (prev.rules.map(renderRule).join('\n') !== rules.join('\n'))
      chainOps.push(
        { kind: 'chain', verb: 'flush', table, chain: { name } },
        { kind: 'chain', verb: 'add', table, chain: c },
      );
  }
  return { del, chainOps, add };
}

// Same config as far as the table is concerned: everything but the pools, the health verdicts, full flags and the
// operator's overrides.
function sameShape(a: PlannedService, b: PlannedService): boolean {
  const strip = (s: PlannedService): string =>
    JSON.stringify({
      ...s,
      pools: s.pools.map((p) => [p.family, p.slotBase, p.capacity]),
      backends: s.backends.map(withoutMembership),
    });
  return strip(a) === strip(b);
}

// A backend without what a membership change may change. The keys are left out, not set to null: `full` and
// `override` are present only when set, so setting them would order the keys differently from one plan to the other.
function withoutMembership(b: PlannedBackend): object {
  const { health, full, override, ...rest } = b;
  void [health, full, override];
  return rest;
}

// The declaration of a set of the table, as buildTable makes it.
function declaration(sets: readonly SetDecl[], name: Ident): SetDecl {
  const s = sets.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no set ${name} in the table`);
  return s;
}

const sameElement = (a: Element | undefined, b: Element): boolean =>
  a !== undefined && renderElement(a) === renderElement(b);

function elementsByKey(sets: readonly SetDecl[], name: Ident): Map<string, Element> {
  const out = new Map<string, Element>();
  for (const el of sets.find((s) => s.name === name)?.elements ?? []) out.set(renderElementKey(el), el);
  return out;
}

// Only the per-pool chains (service and selector chains): the builds also emit the shared chains (pick, refuse, the netdev fwd_ ones, the hooked
// ones), which never change here.
function chainsByName(chains: readonly Chain[]): Map<Ident, Chain> {
  return new Map(
    chains
      .filter((c) => parseServiceChain(c.name) !== null || parseSelectorChain(c.name) !== null)
      .map((c) => [c.name, c]),
  );
}
