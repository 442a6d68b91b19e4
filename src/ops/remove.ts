import { NftlbError } from '../common/errors.js';
import { renderCommands } from '../nft/commands.js';
import { ident } from '../nft/names.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { checkAndLoad, foreignTable, readLiveTable } from '../system/nft.js';

// How `nftlb remove` ended.
export interface RemoveOutcome {
  readonly table: string;
  /** false when there was no such table (remove is idempotent). */
  readonly removed: boolean;
}

// Deletes nftlb's table (and nothing else) under the apply lock. `destroy` (written for nft 1.0.6 as an empty `add`
// and a `delete`) makes the delete itself idempotent, so a table that vanishes between the listing and the delete is
// no error either. A table of that name that nftlb did not make is left alone.
export async function removeTable(host: Host, o: { table: string; waitSeconds: number }): Promise<RemoveOutcome> {
  let name;
  try {
    name = ident(o.table);
  } catch (cause) {
    throw new NftlbError('config-invalid', `not a valid table name: ${JSON.stringify(o.table)}`, { cause });
  }
  const table = { family: 'inet', name } as const;
  const release = await acquireLock(host, o.waitSeconds);
  try {
    const live = await readLiveTable(host, table);
    if (live.kind === 'absent') return { table: name, removed: false };
    if (live.fingerprint === null) throw foreignTable(table);
    await checkAndLoad(host, renderCommands([{ kind: 'table', verb: 'destroy', table }]));
    return { table: name, removed: true };
  } finally {
    await release();
  }
}
