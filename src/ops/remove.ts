import { NftlbError } from '../common/errors.js';
import { ident } from '../nft/names.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { commitScript, foreignTable } from '../system/nft.js';
import { deleteTablesScript, foreignTables, readOwnedTables } from '../system/owned-tables.js';
import { fileIdentity } from '../system/files.js';
import { applyImageFile, writeApplyImage } from './apply-image.js';

// How `nftlb remove` ended.
export interface RemoveOutcome {
  readonly table: string;
  /** false when there was no such table (remove is idempotent). */
  readonly removed: boolean;
  /** The tables deleted, as `family name` (the inet table, and the DSR netdev table when there was one). */
  readonly tables: readonly string[];
}

// Deletes nftlb's tables (and nothing else) under the apply lock: the inet table and, when present, the DSR netdev
// table, in one transaction. `destroy` (written for nft 1.0.6 as an empty `add` and a `delete`) makes each delete
// idempotent, so a table that vanishes between the listing and the delete is no error either. When either name is
// held by a table that nftlb did not make, nothing is deleted.
export async function removeTable(host: Host, o: { table: string; waitSeconds: number }): Promise<RemoveOutcome> {
  let name;
  try {
    name = ident(o.table);
  } catch (cause) {
    throw new NftlbError('config-invalid', `not a valid table name: ${JSON.stringify(o.table)}`, { cause });
  }
  const release = await acquireLock(host, o.waitSeconds);
  try {
    const owned = await readOwnedTables(host, name);
    const present = owned.filter((t) => t.live.kind === 'present').map((t) => t.ref);
    if (present.length === 0) return { table: name, removed: false, tables: [] };
    const foreign = foreignTables(owned);
    if (foreign.length > 0) throw foreignTable(foreign[0]!);
    await commitScript(host, deleteTablesScript(present));
    // The image of apply's last load describes tables that are gone: its megabytes go too (it could not be used anyway,
    // the generation moved). Best effort.
    const image = applyImageFile(host.runDir, name);
    if ((await fileIdentity(image)) !== null) await writeApplyImage(host.runDir, name, null).catch(() => undefined);
    return { table: name, removed: true, tables: present.map((t) => `${t.family} ${t.name}`) };
  } finally {
    await release();
  }
}
