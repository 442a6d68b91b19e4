import ipaddr from 'ipaddr.js';
import { NftlbError } from '../common/errors.js';
import { loadModel } from '../system/config-file.js';
import type { Family } from '../model/types.js';
import { parseAddress } from '../model/address.js';
import type { TableRef } from '../nft/ast.js';
import { renderCommands, type Command } from '../nft/commands.js';
import { ident } from '../nft/names.js';
import { entriesOfJson, removeEntries, type LiveEntry } from '../nft/persistence-entries.js';
import { readEntryMaps } from '../system/set-elements.js';
import { ENTRY_MAPS } from '../nft/persistence.js';
import type { Plan, PlannedBackend, PlannedService } from '../plan/types.js';
import type { Host } from '../system/host.js';
import { foreignTable, loadScript, nftFailed, readLiveJson, readLiveTable } from '../system/nft.js';
import { desiredPlan } from './desired.js';
import { carryNoopRecord } from './noop.js';

// `nftlb persistence list|flush`: the live persistence entries in the config's terms, and their removal.

/** One live entry as the operator reads it. */
export interface EntryView {
  /** The service whose mark keys the entry; null for a mark no service of the config has (a removed service). */
  readonly service: string | null;
  /** The client prefix: 203.0.113.0/24, 2001:db8:1::/64 (the bare address when the service is unknown). */
  readonly client: string;
  /** key saddr-daddr (IPv4): the VIP the client connected to. */
  readonly vip: string | null;
  /** The backend the entry names (its endpoint and id); null when the service has no backend of that tag. */
  readonly backend: string | null;
  readonly id: number | null;
  /** Whether the backend takes new connections now, i.e. whether the entry is used; otherwise the client's next
   *  connection is scheduled anew and replaces it. */
  readonly active: boolean;
  /** Seconds until it expires, unless refreshed by a new connection. */
  readonly expires: number | null;
}

/** Which entries a command is about: all, one service's, one client's (an address within the prefix). */
export interface EntryFilter {
  readonly service?: string;
  readonly client?: string;
}

const tableOf = (p: Plan): TableRef => ({ family: 'inet', name: ident(p.table) });

// The entries of nftlb's live table, raw, from each entry map (none when the table or a map is absent): the kernel's
// dump of the maps (src/system/set-elements.ts), else nft's listing of each.
async function readEntries(host: Host, table: TableRef): Promise<LiveEntry[]> {
  const dumped = await readEntryMaps(host, table);
  if (dumped !== null) return dumped;
  const out: LiveEntry[] = [];
  for (const name of ENTRY_MAPS) {
    const items = await readLiveJson(host, table, { kind: 'map', name });
    if (items !== null) out.push(...entriesOfJson(items));
  }
  return out;
}

// The prefix of `address` under `length` bits, as text (the address nft keys the entry by).
function prefixOf(address: string, family: Family, length: number): string {
  const bytes = ipaddr.parse(address).toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    bytes[i] = bytes[i]! & (0xff << (8 - keep)) & 0xff;
  }
  const a = ipaddr.fromByteArray(bytes);
  return family === 6 ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
}

const familyOf = (e: LiveEntry): Family => (e.client.includes(':') ? 6 : 4);

// The service an entry belongs to: the one of its mark, unless the entry's client is no prefix of that service's
// netmask (host bits set): an entry of the service from before its netmask changed, which no client matches any more
// (a reload keeps the entry maps). Such an entry is listed as an orphan (service -), as one of a removed service, and
// goes with its timeout or a flush.
function ownerOf(e: LiveEntry, s: PlannedService | undefined): PlannedService | undefined {
  const p = s?.persistence;
  if (p === undefined) return s;
  const fam = familyOf(e);
  return prefixOf(e.client, fam, fam === 4 ? p.netmask4 : p.netmask6) === e.client ? s : undefined;
}

// An entry in the config's terms; `selected` holds the ids the pools select now.
function view(e: LiveEntry, s: PlannedService | undefined, selected: ReadonlySet<number>): EntryView {
  const b: PlannedBackend | undefined = s?.backends.find((x) => x.tag === e.tag);
  const p = s?.persistence;
  const length = p === undefined ? undefined : familyOf(e) === 4 ? p.netmask4 : p.netmask6;
  return {
    service: s?.name ?? null,
    client: length === undefined ? e.client : `${e.client}/${length}`,
    vip: e.vip,
    backend: b?.endpoint ?? null,
    id: b?.id ?? null,
    active: b !== undefined && selected.has(b.id),
    expires: e.expires,
  };
}

// The live entries with the service and backend they belong to, filtered.
async function entries(
  host: Host,
  p: Plan,
  f: EntryFilter,
): Promise<{ table: TableRef; loaded: boolean; live: LiveEntry[]; views: EntryView[] }> {
  const table = tableOf(p);
  const head = await readLiveTable(host, table);
  if (head.kind === 'absent') return { table, loaded: false, live: [], views: [] };
  if (head.fingerprint === null) throw foreignTable(table);
  const byMark = new Map<number, PlannedService>();
  const selected = new Set<number>();
  for (const s of p.services) {
    if (s.persistence === undefined) continue;
    byMark.set(s.persistence.mark, s);
    for (const pool of s.pools) for (const id of pool.slots) selected.add(id);
  }
  let service: PlannedService | undefined;
  if (f.service !== undefined) {
    service = p.services.find((s) => s.name === f.service && s.persistence !== undefined);
    if (service === undefined) throw new NftlbError('usage', `no service ${f.service} with persistence in the config`);
  }
  let client: { address: string; family: Family } | undefined;
  if (f.client !== undefined) {
    const a = parseAddress(f.client);
    if (a === undefined) throw new NftlbError('usage', `--client: expected an IPv4 or IPv6 address, got "${f.client}"`);
    client = { address: a.text, family: a.family };
  }
  const live: LiveEntry[] = [];
  const views: EntryView[] = [];
  for (const e of await readEntries(host, table)) {
    const s = ownerOf(e, byMark.get(e.mark));
    if (service !== undefined && s !== service) continue;
    if (client !== undefined) {
      if (familyOf(e) !== client.family) continue;
      const p = s?.persistence;
      const length = p === undefined ? undefined : client.family === 4 ? p.netmask4 : p.netmask6;
      const key = length === undefined ? client.address : prefixOf(client.address, client.family, length);
      if (key !== e.client) continue;
    }
    live.push(e);
    views.push(view(e, s, selected));
  }
  return { table, loaded: true, live, views };
}

// `nftlb persistence list`: the live entries that match the filter, sorted by service, client and VIP.
export async function listPersistence(
  host: Host,
  o: { config: string } & EntryFilter,
): Promise<{ table: string; loaded: boolean; entries: EntryView[] }> {
  const { model } = await loadModel(o.config);
  const { plan: p } = await desiredPlan(model, host);
  const { loaded, views } = await entries(host, p, o);
  const key = (v: EntryView): string => `${v.service ?? '~'}\u0000${v.client}\u0000${v.vip ?? ''}`;
  views.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { table: p.table, loaded, entries: views };
}

/** Attempts of a filtered flush: each lists the entries again (one may have been replaced meanwhile). */
const FLUSH_ATTEMPTS = 3;

// `nftlb persistence flush`: removes the live entries that match the filter (all of them without one); their clients'
// next connections are scheduled anew. Returns how many entries were removed.
export async function flushPersistence(
  host: Host,
  o: { config: string } & EntryFilter,
): Promise<{ table: string; loaded: boolean; flushed: number }> {
  const { model } = await loadModel(o.config);
  const { plan: p } = await desiredPlan(model, host);
  for (let attempt = 1; ; attempt++) {
    const { table, loaded, live } = await entries(host, p, o);
    if (live.length === 0) return { table: p.table, loaded, flushed: 0 };
    const all = o.service === undefined && o.client === undefined;
    const commands: Command[] = all
      ? [...new Set(live.map((e) => e.map))].map((name) => ({
          kind: 'set' as const,
          verb: 'flush' as const,
          table,
          set: { kind: 'map' as const, name },
        }))
      : removeEntries(table, live);
    // Entries are runtime state, which apply's no-op proof leaves aside: the record follows this transaction.
    const r = await carryNoopRecord(host, o.config, {}, () => loadScript(host, renderCommands(commands)));
    if (r.exitCode === 0) return { table: p.table, loaded, flushed: live.length };
    if (attempt >= FLUSH_ATTEMPTS) throw nftFailed('nft refused to remove the persistence entries', r);
  }
}
