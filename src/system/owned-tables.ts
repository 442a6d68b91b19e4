import type { TableRef } from '../nft/ast.js';
import { renderCommands } from '../nft/commands.js';
import { ownedListingScript, splitOwnedListing } from '../nft/owned-listing.js';
import { fingerprintOfListing } from '../nft/script.js';
import { ownedTableRefs } from '../nft/tables.js';
import type { Host } from './host.js';
import { nftFailed, readLiveTable, type LiveTable } from './nft.js';

// The live state of every table nftlb may own under one configured name (the inet table and the DSR netdev table),
// compared with the tables a script replaces. apply, diff, status, remove and health's full load read it the same way.

/** One of nftlb's possible tables as found in the kernel. */
export interface OwnedTable {
  readonly ref: TableRef;
  readonly live: LiveTable;
}

/** How the live tables relate to a script: absent (none of them exists), matches (every table of the script carries
 *  its fingerprint and no other table of nftlb's is left), differs, or foreign (a table of nftlb's name without a
 *  fingerprint). */
export type LiveState = 'absent' | 'matches' | 'differs' | 'foreign';

const same = (a: TableRef, b: TableRef): boolean => a.family === b.family && a.name === b.name;

// Reads each table nftlb may own under `table`, the inet one first: whether it is there, its fingerprint and its chains
// and sets, from one cheap listing (src/nft/owned-listing.ts: no rules, no elements). A table without the fingerprint
// chain is listed again in full (`nft -t list table`) for its table comment: a table loaded by an nftlb from before the
// chain, or not nftlb's at all (foreign).
export async function readOwnedTables(host: Host, table: string): Promise<OwnedTable[]> {
  return ownedTablesOf(host, await listOwnedFamilies(host), table);
}

// The cheap listing of every table of the families nftlb's tables are of (it names no table, so it can be asked before
// the config is read).
export async function listOwnedFamilies(host: Host): Promise<string> {
  const script = ownedListingScript(ownedTableRefs('nftlb'));
  // Hundreds of KiB at 10k services, asked while apply plans (node busy): not through a pipe node would have to drain.
  const r = await host.exec.run(host.nft, ['-t', '-f', '-'], script, { detached: true });
  if (r.exitCode !== 0) throw nftFailed('nft cannot list the tables', r);
  return r.stdout;
}

// nftlb's tables under `table` in a listing of listOwnedFamilies.
export async function ownedTablesOf(host: Host, text: string, table: string): Promise<OwnedTable[]> {
  const listings = splitOwnedListing(text);
  const out: OwnedTable[] = [];
  for (const ref of ownedTableRefs(table)) {
    const listing = listings.get(`${ref.family} ${ref.name}`);
    const fingerprint = listing === undefined ? null : fingerprintOfListing(listing);
    const live: LiveTable =
      listing === undefined
        ? { kind: 'absent' }
        : fingerprint !== null
          ? { kind: 'present', fingerprint, listing }
          : await readLiveTable(host, ref);
    out.push({ ref, live });
  }
  return out;
}

// The present tables among `wanted` (all of them without it) that nftlb did not make.
export function foreignTables(owned: readonly OwnedTable[], wanted?: readonly TableRef[]): TableRef[] {
  return owned
    .filter((t) => t.live.kind === 'present' && t.live.fingerprint === null)
    .filter((t) => wanted === undefined || wanted.some((w) => same(w, t.ref)))
    .map((t) => t.ref);
}

// nftlb's own tables (with a fingerprint) that a script of `wanted` does not replace: left from a config with other
// forwarding (a netdev table after the last DSR service went), to delete in the same transaction as the load.
export function staleTables(owned: readonly OwnedTable[], wanted: readonly TableRef[]): TableRef[] {
  return owned
    .filter((t) => t.live.kind === 'present' && t.live.fingerprint !== null && !wanted.some((w) => same(w, t.ref)))
    .map((t) => t.ref);
}

// The fingerprint the live tables of `wanted` share: null when one is absent, foreign or carries another one.
export function liveFingerprint(owned: readonly OwnedTable[], wanted: readonly TableRef[]): string | null {
  let fp: string | null | undefined;
  for (const w of wanted) {
    const t = owned.find((o) => same(o.ref, w));
    const f = t?.live.kind === 'present' ? t.live.fingerprint : null;
    if (f === null || (fp !== undefined && fp !== f)) return null;
    fp = f;
  }
  return fp ?? null;
}

// How the live tables relate to a script of `wanted` tables with `fingerprint`.
export function liveState(owned: readonly OwnedTable[], wanted: readonly TableRef[], fingerprint: string): LiveState {
  if (owned.every((t) => t.live.kind === 'absent')) return 'absent';
  if (foreignTables(owned, wanted).length > 0) return 'foreign';
  return liveFingerprint(owned, wanted) === fingerprint && staleTables(owned, wanted).length === 0
    ? 'matches'
    : 'differs';
}

// The fingerprint of the first present table of nftlb's (the inet one when it is there): what a log line calls the
// previous load.
export function previousFingerprint(owned: readonly OwnedTable[]): string | null {
  for (const t of owned) if (t.live.kind === 'present' && t.live.fingerprint !== null) return t.live.fingerprint;
  return null;
}

// The commands that delete `tables` (each idempotently), to append to a script so they go in its transaction.
export function deleteTablesScript(tables: readonly TableRef[]): string {
  return renderCommands(tables.map((table) => ({ kind: 'table', verb: 'destroy', table })));
}
