import type { Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import type { TableRef } from '../nft/ast.js';
import { holdsEntries, keepEntries } from '../nft/in-place.js';
import { loadModel } from '../system/config-file.js';
import { ident } from '../nft/names.js';
import { renderNftScript } from '../nft/script.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { checkAndLoad, foreignTable } from '../system/nft.js';
import {
  deleteTablesScript,
  foreignTables,
  liveState,
  previousFingerprint,
  readOwnedTables,
  staleTables,
} from '../system/owned-tables.js';
import { applyRecordFile, writeApplyRecord } from './apply-record.js';
import type { Plan } from '../plan/types.js';
import { desiredPlan } from './desired.js';
import { forwardView, viewOf } from './view.js';
import { clearTrace, keepLive } from './trace.js';
import { holdsTrace } from '../nft/trace.js';

// What `nftlb apply` was asked to do.
export interface ApplyOptions {
  readonly config: string;
  /** Seconds to wait for another apply to finish; 0 fails at once with lock-busy. */
  readonly waitSeconds: number;
  /** Print the script instead of loading it; touches nothing. */
  readonly dryRun: boolean;
  /** Load even when the live table already carries this config's fingerprint, and replace a table of nftlb's name
   *  that nftlb did not make. */
  readonly force: boolean;
}

// How an apply ended (failures are thrown as NftlbError).
export type ApplyOutcome =
  | {
      readonly kind: 'applied';
      readonly table: string;
      /** The tables loaded, as `family name` (the inet one, and the DSR netdev one when the config has DSR). */
      readonly tables: readonly string[];
      /** nftlb's tables the config no longer needs, deleted in the same transaction (a netdev table after the last
       *  DSR service went). */
      readonly deleted: readonly string[];
      readonly fingerprint: string;
      readonly previous: string | null;
      readonly services: number;
      readonly warnings: readonly Diagnostic[];
      /** Persistence entries of the live table: kept (emptied in place), dropped (replaced whole), or null (none). */
      readonly persistence: 'kept' | 'dropped' | null;
    }
  | {
      readonly kind: 'unchanged';
      readonly table: string;
      readonly tables: readonly string[];
      readonly fingerprint: string;
      readonly services: number;
      readonly warnings: readonly Diagnostic[];
    }
  | {
      readonly kind: 'dry-run';
      readonly table: string;
      readonly tables: readonly string[];
      readonly fingerprint: string;
      readonly services: number;
      readonly script: string;
      readonly warnings: readonly Diagnostic[];
    };

// load -> validate -> render -> (lock) -> compare fingerprint with the live table -> nft -c -f - -> nft -f -.
// Every failure happens before nft commits, or is nft's own all-or-nothing commit failing, so the live ruleset is then
// exactly what it was.
export async function applyConfig(host: Host, o: ApplyOptions): Promise<ApplyOutcome> {
  const { model, warnings } = await loadModel(o.config);
  const { plan: p } = await desiredPlan(model, host);
  const { text, fingerprint, tables } = renderNftScript(p);
  const names = (ts: readonly TableRef[]): string[] => ts.map((t) => `${t.family} ${t.name}`);
  const base = { table: p.table, tables: names(tables), fingerprint, services: p.services.length, warnings };
  if (o.dryRun) return { kind: 'dry-run', ...base, script: text };
  const release = await acquireLock(host, o.waitSeconds);
  try {
    // Every table nftlb may own under this name: the script's tables are replaced, a netdev table the config no longer
    // needs is deleted in the same transaction, and one of the script's names that nftlb did not make is refused.
    const owned = await readOwnedTables(host, p.table);
    const foreign = foreignTables(owned, tables);
    if (foreign.length > 0 && !o.force) throw foreignTable(foreign[0]!);
    const previous = previousFingerprint(owned);
    // The inet table comes first in `owned`; its listing says what an in-place reload must empty.
    const inet = owned[0]?.live;
    if (!o.force && liveState(owned, tables, fingerprint) === 'matches') {
      // A load replaces the table and with it a dead trace's rules; an unchanged table keeps them until removed here.
      if (inet?.kind === 'present' && holdsTrace(inet.listing))
        await clearTrace(host, { family: 'inet', name: ident(p.table) }, keepLive);
      return { kind: 'unchanged', ...base };
    }
    const stale = staleTables(owned, tables);
    const listing = inet?.kind === 'present' && inet.fingerprint !== null ? inet.listing : null;
    const persistence = await load(host, p, text, deleteTablesScript(stale), listing);
    // Best effort: the record only improves `diff`, which does not trust it unless the live fingerprint matches.
    await writeApplyRecord(applyRecordFile(host.runDir, p.table), {
      table: p.table,
      fingerprint,
      services: viewOf(p),
      ...(p.forward === undefined ? {} : { forward: forwardView(p) }),
    }).catch(() => undefined);
    return { kind: 'applied', ...base, previous, deleted: names(stale), persistence };
  } finally {
    await release();
  }
}

// Loads the plan over nftlb's live table (its listing; null when there is none or it is not nftlb's): emptied in place
// when that keeps persistence entries, else replaced whole by `script`. A script that empties in place and is refused
// (the live table is not what its listing said any more) falls back to the whole replacement, which drops the entries.
export async function load(
  host: Host,
  p: Plan,
  script: string,
  tail: string,
  listing: string | null,
): Promise<'kept' | 'dropped' | null> {
  const inPlace = listing === null ? undefined : keepEntries(p, listing);
  if (inPlace !== undefined) {
    try {
      await checkAndLoad(host, `${renderNftScript(p, inPlace).text}${tail}`);
      return 'kept';
    } catch (e) {
      if (!(e instanceof NftlbError) || e.code !== 'nft-failed') throw e;
    }
  }
  await checkAndLoad(host, `${script}${tail}`);
  return listing !== null && holdsEntries(listing) ? 'dropped' : null;
}
