import { NftlbError } from '../common/errors.js';
import { ident } from '../nft/names.js';
import type { Executor } from '../system/executor.js';
import { acquireLock } from '../system/lock.js';
import { checkAndLoad, readLiveTable } from '../system/nft.js';

// How `nftlb remove` ended.
export interface RemoveOutcome {
  readonly table: string;
  /** false when there was no such table (remove is idempotent). */
  readonly removed: boolean;
}

// Deletes nftlb's table (and nothing else) under the apply lock. The `table inet T {}` + `delete table` pair makes the
// delete itself idempotent, so a table that vanishes between the listing and the delete is no error either.
export async function removeTable(
  exec: Executor,
  o: { table: string; nft: string; lockFile: string; waitSeconds: number },
): Promise<RemoveOutcome> {
  let name;
  try {
    name = ident(o.table);
  } catch (cause) {
    throw new NftlbError('config-invalid', `not a valid table name: ${JSON.stringify(o.table)}`, { cause });
  }
  const release = await acquireLock(exec, o.lockFile, o.waitSeconds);
  try {
    const live = await readLiveTable(exec, o.nft, name);
    if (live.kind === 'absent') return { table: name, removed: false };
    if (live.fingerprint === null) {
      throw new NftlbError(
        'nft-failed',
        `table inet ${name} exists but was not made by nftlb (no fingerprint comment); not removing it`,
      );
    }
    await checkAndLoad(exec, o.nft, `table inet ${name} {}\ndelete table inet ${name}\n`);
    return { table: name, removed: true };
  } finally {
    await release();
  }
}
