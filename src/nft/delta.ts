import type { Chain, SetDecl } from './ast.js';
import { buildTable, NAMES } from './build.js';
import type { Ident } from './names.js';
import { renderElement, renderElementKey, renderRule, setType } from './render.js';
import type { Plan, PlannedService } from '../plan/types.js';

/** What an incremental update touches, for logs and tests. */
export interface IncrementalUpdate {
  /** The nft script (one transaction), or null when the two plans load the same table. */
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
// `elements = { }` the table list only; but `add rule` and `add element` every chain of the ruleset (10k services:
// 10k chains, 0.7 MB, ~20 ms), and any `delete` the same. So rules go in `add chain X { }` blocks (nft turns them into
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
  if (changed.length === 0) return { script: null, services: [] };
  const pick = (p: Plan): Plan => ({ table: p.table, services: changed.map((i) => p.services[i]!) });
  const old = buildTable(pick(before), '');
  const neu = buildTable(pick(after), '');
  const T = `inet ${after.table}`;
  const del: string[] = [];
  const add: string[] = [];
  for (const name of TOUCHED_SETS) {
    const o = elementsByKey(old.sets, name);
    const n = elementsByKey(neu.sets, name);
    const gone = [...o].filter(([k, text]) => n.get(k) !== text).map(([k]) => k);
    const come = [...n].filter(([k, text]) => o.get(k) !== text).map(([, text]) => text);
    if (gone.length > 0) del.push(`delete element ${T} ${name} { ${gone.join(', ')} }`);
    if (come.length > 0) add.push(`add ${declaration(T, neu.sets, name)}; elements = { ${come.join(', ')} } }`);
  }
  const oc = chainsByName(old.chains);
  const nc = chainsByName(neu.chains);
  const chainOps: string[] = [];
  for (const [name] of oc) if (!nc.has(name)) chainOps.push(`delete chain ${T} ${name}`);
  for (const [name, c] of nc) {
    const prev = oc.get(name);
    const rules = c.rules.map(renderRule);
    const block = `add chain ${T} ${name} {\n${rules.map((r) => `\t${r}\n`).join('')}}`;
    if (prev === undefined) chainOps.push(block);
    else if (prev.rules.map(renderRule).join('\n') !== rules.join('\n'))
      chainOps.push(`flush chain ${T} ${name}`, block);
  }
  // Element deletions first (they may reference chains about to go), then chains, then additions (may reference new chains).
  const lines = [...del, ...chainOps, ...add];
  // `add table` (a no-op on the live table: no flags, its comment stays) first: without it, when the table is gone, nft
  // stops at the first `add chain` or `add map` (it checks their table against its table list) before the kernel sees
  // the guard, so the caller could not tell a deleted table from a refused update by the guard's line in the error.
  return {
    script: lines.length === 0 ? null : `add table ${T}\n${lines.join('\n')}\n`,
    services: changed.map((i) => after.services[i]!.name),
  };
}

// Same config as far as the table is concerned: everything but the pools and the health verdicts.
function sameShape(a: PlannedService, b: PlannedService): boolean {
  const strip = (s: PlannedService): string =>
    JSON.stringify({
      ...s,
      pools: s.pools.map((p) => [p.family, p.slotBase, p.capacity]),
      backends: s.backends.map((x) => ({ ...x, health: null, full: null })),
    });
  return strip(a) === strip(b);
}

// `map inet T name { type ...; flags interval` without its closing brace: the declaration as buildTable makes it, but
// without `size` (which a membership change never changes; the kernel keeps an existing map's size when none is given).
function declaration(table: string, sets: readonly SetDecl[], name: Ident): string {
  const s = sets.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no set ${name} in the table`);
  return `${s.kind} ${table} ${name} { type ${setType(s)}${s.interval ? '; flags interval' : ''}`;
}

function elementsByKey(sets: readonly SetDecl[], name: Ident): Map<string, string> {
  const out = new Map<string, string>();
  for (const el of sets.find((s) => s.name === name)?.elements ?? []) out.set(renderElementKey(el), renderElement(el));
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
