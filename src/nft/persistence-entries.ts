import ipaddr from 'ipaddr.js';
import type { TableRef } from './ast.js';
import type { Command } from './commands.js';
import type { Ident } from './names.js';
import { ENTRY_MAPS, PERSIST_NAMES } from './persistence.js';

// Persistence entries as nft lists them (`nft -j list map|table`), and the commands that remove them. The key of an
// entry is the service mark and the client prefix (and, in persist4_daddr, the VIP); its value is a backend tag.

/** One entry of a live persistence map. */
export interface LiveEntry {
  readonly map: Ident;
  /** The service mark the entry is keyed by. */
  readonly mark: number;
  /** The client prefix's address (the client address under the service's netmask). */
  readonly client: string;
  /** persist4_daddr: the VIP the client connected to. */
  readonly vip: string | null;
  /** The backend tag the entry names. */
  readonly tag: number;
  /** Seconds left, as nft lists them (null when nft shows none). */
  readonly expires: number | null;
}

const num = (v: unknown): number | null => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v)) return Number(v);
  return null;
};

// The IPv6 address whose first 96 bits nft lists as a hex integer (persist6 keys `@nh,64,96`).
function address96(v: unknown): string | null {
  if (typeof v !== 'string' || !/^0x[0-9a-f]{1,24}$/i.test(v)) return null;
  const hex = v.slice(2).padStart(24, '0');
  const parts: number[] = [];
  for (let i = 0; i < 24; i += 4) parts.push(Number.parseInt(hex.slice(i, i + 4), 16));
  return new ipaddr.IPv6([...parts, 0, 0]).toRFC5952String();
}

// The entries of the persistence maps among the items of an nft JSON listing (a whole table or single maps).
// Elements that do not have the shape nftlb writes are skipped.
export function entriesOfJson(items: readonly unknown[]): LiveEntry[] {
  const out: LiveEntry[] = [];
  for (const item of items) {
    const map = (item as { map?: { name?: string; elem?: unknown[] } }).map;
    if (map?.name === undefined || !ENTRY_MAPS.includes(map.name as Ident)) continue;
    const name = map.name as Ident;
    for (const el of map.elem ?? []) {
      if (!Array.isArray(el) || el.length !== 2) continue;
      const wrapped = (el[0] as { elem?: { val?: unknown; expires?: number } }).elem;
      const concat = ((wrapped?.val ?? el[0]) as { concat?: unknown[] }).concat;
      const tag = num(el[1]);
      const mark = num(concat?.[0]);
      if (concat === undefined || tag === null || mark === null) continue;
      const client =
        name === PERSIST_NAMES.v6 ? address96(concat[1]) : typeof concat[1] === 'string' ? concat[1] : null;
      if (client === null) continue;
      const vip = name === PERSIST_NAMES.v4daddr && typeof concat[2] === 'string' ? concat[2] : null;
      out.push({ map: name, mark, client, vip, tag, expires: wrapped?.expires ?? null });
    }
  }
  return out;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

// The key of an entry as nft reads it in an element list.
function keyText(e: LiveEntry): string {
  if (e.map === PERSIST_NAMES.v6) {
    const bytes = ipaddr.IPv6.parse(e.client).toByteArray().slice(0, 12);
    return `${hex(e.mark)} . 0x${bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  return [hex(e.mark), e.client, ...(e.vip === null ? [] : [e.vip])].join(' . ');
}

// Commands that remove entries whether or not they are still there: each is added (a no-op while it holds the same
// backend) and deleted, since deleting an element that expired meanwhile would fail the whole transaction. An entry
// that was replaced since it was listed (another backend) makes the add fail: list again and retry.
export function removeEntries(table: TableRef, entries: readonly LiveEntry[]): Command[] {
  const out: Command[] = [];
  for (const map of ENTRY_MAPS) {
    const mine = entries.filter((e) => e.map === map);
    if (mine.length === 0) continue;
    const keys = mine.map((e) => ({ key: keyText(e), value: hex(e.tag), timeout: 1 }));
    out.push({ kind: 'elements', verb: 'add', table, set: map, elements: keys });
    out.push({ kind: 'elements', verb: 'delete', table, set: map, elements: keys });
  }
  return out;
}
