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

/** An element of an entry map as the kernel holds it (src/system/set-elements.ts reads them): key and data bytes, as
 *  nf_tables stores them, and the milliseconds until it expires. */
export interface KernelElement {
  readonly key: Uint8Array;
  readonly data: Uint8Array | null;
  readonly expiresMs: number | null;
}

// The byte order nf_tables keeps a mark in: the host's (nft's `mark` type is host-endian).
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const mark32 = (b: Uint8Array, at: number): number => {
  const v = new DataView(b.buffer, b.byteOffset + at, 4);
  return v.getUint32(0, HOST_LE);
};
const ipv4 = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

// The entries of one entry map among the kernel's elements: the same entries entriesOfJson finds in nft's listing of
// that map. The key is the concatenation nftlb declares, each part in 4-byte registers: the service mark, then the
// client's IPv4 address (and in persist4_daddr the VIP's), or in persist6 the first 96 bits of the client's IPv6
// address; the value is the backend tag. The time left is in whole seconds, rounded down, as nft lists it. Elements
// that do not have the shape nftlb writes are skipped.
export function entriesOfElements(map: Ident, elements: readonly KernelElement[]): LiveEntry[] {
  const size = map === PERSIST_NAMES.v6 ? 16 : map === PERSIST_NAMES.v4daddr ? 12 : map === PERSIST_NAMES.v4 ? 8 : 0;
  const out: LiveEntry[] = [];
  if (size === 0) return out;
  for (const e of elements) {
    if (e.key.length !== size || e.data === null || e.data.length !== 4) continue;
    const client =
      map === PERSIST_NAMES.v6
        ? (ipaddr.fromByteArray([...e.key.subarray(4, 16), 0, 0, 0, 0]) as ipaddr.IPv6).toRFC5952String()
        : ipv4(e.key, 4);
    out.push({
      map,
      mark: mark32(e.key, 0),
      client,
      vip: map === PERSIST_NAMES.v4daddr ? ipv4(e.key, 8) : null,
      tag: mark32(e.data, 0),
      expires: e.expiresMs === null ? null : Math.floor(e.expiresMs / 1000),
    });
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
