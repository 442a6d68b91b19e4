import type { Chain, Element, SetDecl, TableRef } from './ast.js';
import { renderCommands, type Command } from './commands.js';
import { buildTable, NAMES } from './build.js';
import type { Ident } from './names.js';
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

// Per-service objects a membership change can touch; backend maps and NAT sets list every backend whatever its health.
const TOUCHED_SETS: readonly Ident[] = [
  NAMES.services[4],
  NAMES.services[6],
  NAMES.serviceRanges[4],
  NAMES.serviceRanges[6],
  NAMES.closed[4],
  NAMES.closed[6],
  NAMES.slots,
  NAMES.slotRanges,
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
  const pick = (p: Plan): Plan => ({ table: p.table, services: changed.map((i) => p.services[i]!) });
  const old = buildTable(pick(before), '');
  const neu = buildTable(pick(after), '');
  const table: TableRef = { family: neu.family, name: neu.name };
  const del: Command[] = [];
  const add: Command[] = [];
  for (const name of TOUCHED_SETS) {
    const o = elementsByKey(old.sets, name);
    const n = elementsByKey(neu.sets, name);
    const gone = [...o].filter(([k, el]) => !sameElement(n.get(k), el)).map(([, el]) => el);
    const come = [...n].filter(([k, el]) => !sameElement(o.get(k), el)).map(([, el]) => el);
    if (gone.length > 0) del.push({ kind: 'elements', verb: 'delete', table, set: name, elements: gone });
    // A membership change never changes a map's size; the kernel keeps an existing map's size when none is given.
    if (come.length > 0)
      add.push({
        kind: 'set',
        verb: 'add',
        table,
        set: { ...declaration(neu.sets, name), elements: come },
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
  // Element deletions first (they may reference chains about to go), then chains, then additions (may reference new chains).
  const body = [...del, ...chainOps, ...add];
  // `add table` (a no-op on the live table: no flags, its comment stays) first: without it, when the table is gone, nft
  // stops at the first `add chain` or `add map` (it checks their table against its table list) before the kernel sees
  // the guard, so the caller could not tell a deleted table from a refused update by the guard's line in the error.
  const commands: Command[] = body.length === 0 ? [] : [{ kind: 'table', verb: 'add', table }, ...body];
  return {
    commands,
    script: commands.length === 0 ? null : renderCommands(commands),
    services: changed.map((i) => after.services[i]!.name),
  };
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

// Only the per-pool chains: buildTable also emits the shared chains (pick, dispatch...), which never change here.
function chainsByName(chains: readonly Chain[]): Map<Ident, Chain> {
  return new Map(
    chains
      .filter((c) => c.hook === undefined && c.name !== NAMES.pick && c.name !== NAMES.refuse)
      .map((c) => [c.name, c]),
  );
}
