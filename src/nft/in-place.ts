import type { Plan } from '../plan/types.js';
import type { SetView, TableRef } from './ast.js';
import type { Command } from './commands.js';
import { ident, type Ident } from './names.js';
import { ENTRY_MAPS } from './persistence.js';
import { setType } from './render.js';
import { FINGERPRINT_CHAIN, type InPlace } from './script.js';
import { tableViews } from './tables.js';

// A reload of nftlb's live inet table in place: `flush table` (every rule), the sets and maps both tables declare alike
// flushed (persistence entry maps kept with their entries), what the new table does not declare alike deleted, then
// the usual table block declares everything again, in one transaction. Nothing the packet path uses is deleted and
// created again: measured in a namespace with a client connecting while the table was reloaded 300 times (four runs
// each, 110,000-120,000 connections a run), deleting and declaring the table again let 1-3 connections a run through
// without DNAT (the SYN reached the balancer's own stack, which reset it), and so did keeping the base chains while
// deleting the sets and other chains; flushing and declaring again, nothing deleted, let none through in 3,300
// reloads. What to keep comes from the live table's listing, which apply and health read anyway for its fingerprint.
// With persistence and 100,000 entries at 10k services the entries are kept: 0.82-0.87 s CPU against 0.82-0.85 s for
// delete and redeclare.

/** A set or map of a live table: its kind, name, the declaration line nft lists (`type ...` or `typeof ...`), and its
 *  `flags` and `size` lines when it has them. */
export interface LiveSet {
  readonly kind: 'set' | 'map';
  readonly name: Ident;
  readonly type: string;
  readonly flags?: string;
  readonly size?: number;
}

/** The objects of a live table, from its listing. */
export interface LiveObjects {
  readonly chains: readonly Ident[];
  readonly sets: readonly LiveSet[];
}

const OBJECT = /^\t(chain|set|map) (\S+) \{$/;
const TABLE_LINE = /^\t(comment |flags )/;

// The chains and sets of a table listing (`nft list table`, terse or not), or null when the table holds anything else
// (a flowtable, a named counter...): nftlb makes only chains, sets and maps, so such a table was edited by hand and
// is replaced as a whole rather than emptied object by object.
export function liveObjects(listing: string): LiveObjects | null {
  const chains: Ident[] = [];
  const sets: LiveSet[] = [];
  const lines = listing.split('\n');
  let open:
    | { kind: 'set' | 'map'; name: Ident; type: string | undefined; flags?: string; size?: number; elements: boolean }
    | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length < 2 || line.charCodeAt(0) !== 9) continue;
    if (line.charCodeAt(1) === 9) {
      // Inside an object: a set's first `type`/`typeof` line is its declaration; `flags` and `size` come before its
      // elements (whose own lines may say anything).
      if (open !== undefined && !open.elements) {
        const t = line.trim();
        if (open.type === undefined && (t.startsWith('type ') || t.startsWith('typeof '))) open.type = t;
        else if (t.startsWith('flags ')) open.flags = t;
        else if (/^size [0-9]+$/.test(t)) open.size = Number(t.slice(5));
        else if (t.startsWith('elements = ')) open.elements = true;
      }
      continue;
    }
    if (open !== undefined) {
      if (open.type === undefined) return null;
      const { kind, name, type, flags, size } = open;
      sets.push({
        kind,
        name,
        type,
        ...(flags === undefined ? {} : { flags }),
        ...(size === undefined ? {} : { size }),
      });
      open = undefined;
    }
    if (line === '\t}' || TABLE_LINE.test(line)) continue;
    const m = OBJECT.exec(line);
    if (m === null) return null;
    let name: Ident;
    try {
      name = ident(m[2]!);
    } catch {
      return null;
    }
    if (m[1] === 'chain') chains.push(name);
    else open = { kind: m[1] as 'set' | 'map', name, type: undefined, elements: false };
  }
  if (open !== undefined) return null;
  return { chains, sets };
}

// A set or map as nft lists it (what liveObjects reads back), from the declaration nftlb renders.
export function listedSet(s: Omit<SetView, 'elements'>): LiveSet {
  return {
    kind: s.kind,
    name: s.name,
    type: `${s.typeof === undefined ? 'type' : 'typeof'} ${setType(s)}`,
    ...(s.flags.length > 0 ? { flags: `flags ${s.flags.join(',')}` } : {}),
    ...(s.size === undefined ? {} : { size: s.size }),
  };
}

// Whether an existing set `live` stays when a table block declares it again as `next`: the same kind, type and flags,
// and a size no larger than the live one (the kernel keeps an existing set's size; a live set without one holds any
// number). A persistence entry map keeps its own size with its entries (the packet path adds to it up to that size).
// Both ways of changing nftlb's table without deleting it use this (the reload in place below, and apply's delta,
// src/nft/image.ts); a set not kept is deleted and declared again.
export function keptAsDeclared(live: LiveSet, next: LiveSet): boolean {
  return (
    live.kind === next.kind &&
    live.type === next.type &&
    live.flags === next.flags &&
    (ENTRY_MAPS.includes(live.name) || live.size === undefined || (next.size !== undefined && next.size <= live.size))
  );
}

// How to load the plan's inet table over the live one in place (see above), or undefined when the listing shows
// something nftlb did not make (the table is then replaced whole). The caller has checked that the live table is
// nftlb's. A set is kept (flushed, or with its entries for a persistence entry map) when the plan declares it with the
// same kind, type and flags, and a size no larger than the live one's (the kernel keeps an existing set's size);
// anything else the plan declares differently, or not at all, is deleted and declared again. The fingerprint chain is
// deleted and declared again for its new comment. A declaration the kernel still refuses fails the load, and the
// caller replaces the table whole.
export function reloadInPlace(p: Plan, listing: string): InPlace | undefined {
  const live = liveObjects(listing);
  if (live === null) return undefined;
  const view = tableViews(p, '')[0]!;
  const chains = new Set<Ident>();
  for (const c of view.chains) chains.add(c.name);
  const table: TableRef = { family: 'inet', name: ident(p.table) };
  const flushes: Command[] = [];
  const deletes: Command[] = [];
  let entries = false;
  for (const l of live.sets) {
    const s = view.sets.find((x) => x.name === l.name);
    const same = s !== undefined && keptAsDeclared(l, listedSet(s));
    const set = { kind: l.kind, name: l.name };
    if (!same) deletes.push({ kind: 'set', verb: 'delete', table, set });
    else if (ENTRY_MAPS.includes(l.name)) entries = true;
    else flushes.push({ kind: 'set', verb: 'flush', table, set });
  }
  // Sets first: a verdict map holds references to the chains deleted after it.
  for (const c of live.chains)
    if (c === FINGERPRINT_CHAIN || !chains.has(c))
      deletes.push({ kind: 'chain', verb: 'delete', table, chain: { name: c } });
  return { table, preamble: [{ kind: 'table', verb: 'flush', table }, ...flushes, ...deletes], entries };
}

// Whether a live table listing holds persistence entry maps (whose entries a full replace would drop).
export function holdsEntries(listing: string): boolean {
  return liveObjects(listing)?.sets.some((s) => ENTRY_MAPS.includes(s.name)) ?? false;
}
