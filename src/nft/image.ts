import { createHash } from 'node:crypto';
import type { Plan } from '../plan/types.js';
import type { TableRef } from './ast.js';
import { renderCommand, renderCommands, type Command } from './commands.js';
import { keptAsDeclared, listedSet, type LiveSet } from './in-place.js';
import { ident, type Ident } from './names.js';
import { ENTRY_MAPS } from './persistence.js';
import { renderTableBodyChunks, renderTableOpen, tableBodyChunks, type BodySink } from './render.js';
import { FINGERPRINT_CHAIN, fingerprintOf, replacedTableHead, tableEnd } from './script.js';
import { scriptTableRefs, tableViews } from './tables.js';

// A table image: nftlb's inet table as one load rendered it, object by object (each set's header and elements' text,
// each chain's text). `nftlb apply` keeps the image of what it loaded; the next apply, once it has proven that the live
// table is still exactly that load (src/ops/apply-image.ts), renders the new config to an image too and sends only the
// difference (deltaScript): the elements that went or changed, the chains whose rules changed, the objects that are
// new or gone. A one-element change of a 10k-service config is then a transaction of a few lines instead of the 2.6 MB
// script, and every chain the change does not touch keeps its rules and their counters.

/** One set or map as rendered: its declaration as nft lists it (kind, name, type, flags, size: what decides whether a
 *  later declaration keeps it), `head` its declaration as rendered up to the elements, `elements` the text of each
 *  element, `keys` (maps only) the key of each, which is what `delete element` names. Each
 *  list is one string, a line per element ('' for none; an element is one line): two renders of a set compare as two
 *  strings, and the image file is a few large strings, which JSON reads and writes several times faster than 50,000
 *  small ones. */
export interface ImageSet extends LiveSet {
  readonly head: string;
  readonly elements: string;
  readonly keys: string | null;
}

/** One chain as rendered: its hook line (base chains), and its whole text. */
export interface ImageChain {
  readonly name: Ident;
  readonly hook: string | null;
  readonly text: string;
}

/** A rendered table, object by object, with the fingerprint of its body (the one its fingerprint chain carries). A
 *  config with DSR services also has a netdev table (src/nft/dsr.ts), which every load replaces whole: the image says
 *  which one (`dsr`), and an image just rendered carries its script (`dsrScript`: destroy, then the whole table). */
export interface TableImage {
  readonly table: TableRef;
  readonly fingerprint: string;
  readonly sets: readonly ImageSet[];
  readonly chains: readonly ImageChain[];
  readonly dsr: TableRef | null;
  readonly dsrScript?: string;
}

// The image of a plan's table, rendered exactly as the script renders its body (the same chunks hash to the same
// fingerprint: the inet table's body, then the netdev table's when there is one).
export function tableImage(p: Plan): TableImage {
  const refs = scriptTableRefs(p);
  const views = tableViews(p, '');
  const collect = imageCollector();
  const hash = createHash('sha256');
  for (const chunk of tableBodyChunks(views[0]!, collect.sink)) hash.update(chunk);
  const netdev = views.length > 1 ? renderTableBodyChunks(views[1]!) : [];
  for (const chunk of netdev) hash.update(chunk);
  const fingerprint = fingerprintOf(hash);
  const image = collect.image(refs[0]!, fingerprint, refs[1] ?? null);
  if (refs[1] === undefined) return image;
  return { ...image, dsrScript: `${replacedTableHead(refs[1])}${netdev.join('')}${tableEnd(fingerprint)}` };
}

/** Collects the objects of a body as it is rendered (tableBodyChunks' sink); `image` makes the image once the body is
 *  done and its fingerprint known. */
export interface ImageCollector {
  readonly sink: BodySink;
  image(table: TableRef, fingerprint: string, dsr: TableRef | null): TableImage;
}

// A collector for one table body.
export function imageCollector(): ImageCollector {
  const sets: ImageSet[] = [];
  const chains: ImageChain[] = [];
  return {
    sink: {
      set: (decl, head, elements, keys) =>
        sets.push({
          ...listedSet(decl),
          head,
          elements: elements.join('\n'),
          keys: keys === undefined ? null : keys.join('\n'),
        }),
      chain: (name, hook, text) => chains.push({ name, hook: hook ?? null, text }),
    },
    image: (table, fingerprint, dsr) => ({ table, fingerprint, sets, chains, dsr }),
  };
}

/** A delta from one image to the next: the script, and what it changes (for the report). */
export interface ImageDelta {
  readonly script: string;
  /** Chains whose rules were rewritten, declared new, or deleted (the fingerprint chain not counted). */
  readonly chains: number;
  /** Elements deleted and added (a changed map element counts once each way). */
  readonly elements: number;
  /** Sets and maps declared new, declared again, or deleted. */
  readonly sets: number;
  /** The table as the delta leaves it (the next apply's `before`). */
  readonly image: TableImage;
  /** Some persistence entry map stays with its entries (the others, if any, are deleted). */
  readonly keepsEntries: boolean;
  /** nftlb's tables the delta deletes (the netdev table of a config that no longer has DSR services). */
  readonly deleted: readonly TableRef[];
}

// The one transaction that turns the live table, which is `before` (proven by the caller), into `after`; undefined when
// a delta cannot do it and the table is to be loaded in full: a base chain's hook changed, or a persistence entry map
// is declared otherwise (declaring it again would drop its entries; a full load says so). In order: the changed and the
// departing chains are flushed, departing elements (and the old value of a changed map element) deleted, departing or
// re-declared sets, then departing chains, and the fingerprint chain deleted; then one table block declares the new and
// re-declared sets, the new elements of the kept ones (an existing set declared alike is kept, elements added), the
// rewritten and the new chains, and the fingerprint chain with the new fingerprint; then DSR's netdev table, whole. A
// set is declared again when its type or flags change or its size grows (the kernel keeps those of an existing set),
// with every chain that uses it rewritten. Persistence entry maps keep their entries.
export function deltaScript(before: TableImage, after: TableImage): ImageDelta | undefined {
  if (before.table.family !== after.table.family || before.table.name !== after.table.name) return undefined;
  const table = after.table;
  const oldSets = new Map(before.sets.map((s) => [s.name, s]));
  const oldChains = new Map(before.chains.map((c) => [c.name, c]));
  const newSets = new Set(after.sets.map((s) => s.name));
  const newChains = new Set(after.chains.map((c) => c.name));
  const flushes: Command[] = [];
  const elementDeletes: string[] = [];
  const deletes: Command[] = [];
  const block: string[] = [];
  const counts = { chains: 0, elements: 0, sets: 0 };

  // The image of what the table holds after the delta: a set kept with a larger size than the new render's keeps it.
  const liveSets: ImageSet[] = [];
  // Sets declared again (another type, flags, or a larger size): every chain whose rules use them is rewritten, so
  // that nothing refers to the old set when it is deleted.
  const redeclared: Ident[] = [];
  for (const s of after.sets) {
    const old = oldSets.get(s.name);
    if (old === undefined || !keptAsDeclared(old, s)) {
      if (old !== undefined) {
        if (ENTRY_MAPS.includes(s.name)) return undefined;
        deletes.push({ kind: 'set', verb: 'delete', table, set: { kind: old.kind, name: old.name } });
        redeclared.push(s.name);
      }
      const all = lines(s.elements);
      block.push(setBlock(s.head, all));
      liveSets.push(s);
      counts.sets++;
      counts.elements += all.length;
      continue;
    }
    // The live set stays as it was declared (its size too).
    liveSets.push(old.head === s.head ? s : { ...s, head: old.head, size: old.size });
    if (ENTRY_MAPS.includes(s.name) || old.elements === s.elements) continue;
    const { gone, added } = elementChanges(old, s);
    if (gone.length > 0) {
      elementDeletes.push(
        renderCommands([
          { kind: 'elements', verb: 'delete', table, set: s.name, elements: gone.map((key) => ({ key })) },
        ]),
      );
    }
    if (added.length > 0) block.push(setBlock(old.head, added));
    counts.elements += gone.length + added.length;
  }
  const uses = redeclared.map((n) => new RegExp(`@${n}(?![A-Za-z0-9_])`));
  for (const c of after.chains) {
    const old = oldChains.get(c.name);
    if (old !== undefined && old.text === c.text && !uses.some((u) => u.test(c.text))) continue;
    if (old !== undefined) {
      if (old.hook !== c.hook) return undefined;
      flushes.push({ kind: 'chain', verb: 'flush', table, chain: { name: c.name } });
    }
    block.push(c.text);
    counts.chains++;
  }
  // What the new table no longer has: sets before chains (a verdict map's elements hold references to chains).
  for (const s of before.sets) {
    if (newSets.has(s.name)) continue;
    deletes.push({ kind: 'set', verb: 'delete', table, set: { kind: s.kind, name: s.name } });
    counts.sets++;
  }
  for (const c of before.chains) {
    if (newChains.has(c.name)) continue;
    flushes.push({ kind: 'chain', verb: 'flush', table, chain: { name: c.name } });
    deletes.push({ kind: 'chain', verb: 'delete', table, chain: { name: c.name } });
    counts.chains++;
  }
  deletes.push({ kind: 'chain', verb: 'delete', table, chain: { name: FINGERPRINT_CHAIN } });
  // DSR's netdev table is replaced whole (declared again, or deleted when the new config has no DSR service).
  if (after.dsr !== null && after.dsrScript === undefined) return undefined;
  const netdev =
    after.dsrScript ??
    (before.dsr === null ? '' : `${renderCommand({ kind: 'table', verb: 'destroy', table: before.dsr })}\n`);
  const script =
    `#!/usr/sbin/nft -f\n# A delta of table ${table.family} ${table.name} (nftlb apply), one transaction.\n` +
    renderCommands(flushes) +
    elementDeletes.join('') +
    renderCommands(deletes) +
    renderTableOpen(table) +
    block.join('\n\n') +
    tableEnd(after.fingerprint) +
    netdev;
  const keepsEntries = after.sets.some((x) => ENTRY_MAPS.includes(x.name) && oldSets.has(x.name));
  const deleted = before.dsr !== null && after.dsr === null ? [before.dsr] : [];
  return { script, ...counts, image: { ...after, sets: liveSets }, keepsEntries, deleted };
}

// The lines of an element list ('' is none).
const lines = (list: string): string[] => (list === '' ? [] : list.split('\n'));

// How many line breaks a list has (its lines less one), without splitting it.
function newlines(list: string): number {
  let n = 0;
  for (let i = list.indexOf('\n'); i >= 0; i = list.indexOf('\n', i + 1)) n++;
  return n;
}

// The keys to delete (elements gone, and map elements whose value changed) and the texts to add (new elements, and the
// changed ones with their new value) between two renders of one set. Renders list a set's elements in the same order,
// so the two lists are first trimmed of their common head and tail (string compares, no map of a 40k-element set for a
// change of one); only the window between is paired by key. Whatever the order, the result is exact: everything
// outside the window is the same on both sides, everything inside is deleted by key and added anew unless unchanged.
function elementChanges(before: ImageSet, after: ImageSet): { gone: string[]; added: string[] } {
  const o = lines(before.elements);
  const n = lines(after.elements);
  const ok = before.keys === null ? o : lines(before.keys);
  const nk = after.keys === null ? n : lines(after.keys);
  let head = 0;
  while (head < o.length && head < n.length && o[head] === n[head]) head++;
  let tail = 0;
  while (tail < o.length - head && tail < n.length - head && o[o.length - 1 - tail] === n[n.length - 1 - tail]) tail++;
  const old = new Map<string, string>();
  for (let i = head; i < o.length - tail; i++) old.set(ok[i]!, o[i]!);
  const gone: string[] = [];
  const added: string[] = [];
  for (let i = head; i < n.length - tail; i++) {
    const key = nk[i]!;
    const text = n[i]!;
    const was = old.get(key);
    old.delete(key);
    if (was === text) continue;
    if (was !== undefined) gone.push(key);
    added.push(text);
  }
  // What is left of the old window went.
  gone.push(...old.keys());
  return { gone, added };
}

// A set or map in a table block with these elements: its header as rendered, then the elements, as writeSet lays them
// out (an existing set declared alike is kept, and the elements are added to it).
function setBlock(head: string, elements: readonly string[]): string {
  if (elements.length === 0) return `${head}\t}`;
  return `${head}\t\telements = {\n\t\t\t${elements.join(',\n\t\t\t')}\n\t\t}\n\t}`;
}

// The image as JSON text (what apply writes after a load) and back; null when the text is not an image.
export function imageText(i: TableImage): string {
  return JSON.stringify({
    table: [i.table.family, i.table.name],
    fingerprint: i.fingerprint,
    dsr: i.dsr === null ? null : i.dsr.name,
    sets: i.sets.map((s) => [s.kind, s.name, s.type, s.flags ?? null, s.size ?? null, s.head, s.elements, s.keys]),
    chains: i.chains.map((c) => [c.name, c.hook, c.text]),
  });
}

// Reads imageText's output; null for anything else.
export function parseImage(text: string): TableImage | null {
  try {
    const v = JSON.parse(text) as {
      table?: unknown;
      fingerprint?: unknown;
      dsr?: unknown;
      sets?: unknown;
      chains?: unknown;
    };
    if (!Array.isArray(v.table) || v.table[0] !== 'inet' || typeof v.table[1] !== 'string') return null;
    if (typeof v.fingerprint !== 'string' || !Array.isArray(v.sets) || !Array.isArray(v.chains)) return null;
    if (v.dsr !== null && typeof v.dsr !== 'string') return null;
    const sets: ImageSet[] = [];
    for (const s of v.sets as unknown[]) {
      if (!Array.isArray(s) || s.length !== 8) return null;
      const [kind, name, type, flags, size, head, elements, keys] = s as unknown[];
      if ((kind !== 'set' && kind !== 'map') || typeof name !== 'string' || typeof head !== 'string') return null;
      if (typeof type !== 'string' || (flags !== null && typeof flags !== 'string')) return null;
      if (size !== null && !(typeof size === 'number' && Number.isInteger(size))) return null;
      if (typeof elements !== 'string' || (keys !== null && typeof keys !== 'string')) return null;
      if (keys !== null && newlines(keys) !== newlines(elements)) return null;
      if ((kind === 'map') !== (keys !== null)) return null;
      sets.push({
        kind,
        name: ident(name),
        type,
        ...(flags === null ? {} : { flags }),
        ...(size === null ? {} : { size }),
        head,
        elements,
        keys,
      });
    }
    const chains: ImageChain[] = [];
    for (const c of v.chains as unknown[]) {
      if (!Array.isArray(c) || c.length !== 3) return null;
      const [name, hook, text] = c as unknown[];
      if (typeof name !== 'string' || (hook !== null && typeof hook !== 'string') || typeof text !== 'string')
        return null;
      chains.push({ name: ident(name), hook, text });
    }
    return {
      table: { family: 'inet', name: ident(v.table[1]) },
      fingerprint: v.fingerprint,
      sets,
      chains,
      dsr: v.dsr === null ? null : { family: 'netdev', name: ident(v.dsr) },
    };
  } catch {
    return null;
  }
}
