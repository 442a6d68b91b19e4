import type { Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import type { TableRef } from '../nft/ast.js';
import { holdsEntries, keepEntries } from '../nft/in-place.js';
import { loadModel } from '../system/config-file.js';
import { renderNftScript } from '../nft/script.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { commitScript, foreignTable } from '../system/nft.js';
import {
  deleteTablesScript,
  foreignTables,
  previousFingerprint,
  readOwnedTables,
  staleTables,
  type OwnedTable,
} from '../system/owned-tables.js';
import { rulesetGeneration } from '../system/genid.js';
import { applyRecordFile, writeApplyRecord } from './apply-record.js';
import type { Plan } from '../plan/types.js';
import { desiredPlan } from './desired.js';
import { plannedStateDigest } from './planned-state.js';
import { noopInputs, noopMiss, noopRecord, readNoopRecord, withStateInputs, writeNoopRecord } from './noop.js';
import { viewOf } from './view.js';

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

// record proves a no-op? -> load -> validate -> render (the cheap listing of nftlb's tables meanwhile) -> (lock) ->
// record proves a no-op? -> nft -f -. Every failure happens before nft commits, or is nft's own all-or-nothing commit
// failing, so the live ruleset is then exactly what it was. "unchanged" comes only from the no-op record (src/ops/noop.ts);
// without it the config is loaded (nft -f of the whole script costs about what a listing that could compare it would).
export async function applyConfig(host: Host, o: ApplyOptions): Promise<ApplyOutcome> {
  if (!o.force && !o.dryRun) {
    const hit = await provenNoop(host, o.config);
    if (hit !== null) return hit;
  }
  const inputs = await noopInputs(host, o.config);
  const { model, warnings, sha256 } = await loadModel(o.config);
  // What the kernel holds now (a generation and the cheap listing), asked while the config is planned and rendered.
  const before = o.dryRun ? undefined : liveView(host, model.table);
  before?.catch(() => undefined);
  const withState = await withStateInputs(host, inputs, model.table);
  const { plan: p, health } = await desiredPlan(model, host);
  const { text, fingerprint, tables } = renderNftScript(p);
  const names = (ts: readonly TableRef[]): string[] => ts.map((t) => `${t.family} ${t.name}`);
  const base = { table: p.table, tables: names(tables), fingerprint, services: p.services.length, warnings };
  if (o.dryRun) return { kind: 'dry-run', ...base, script: text };
  const release = await acquireLock(host, o.waitSeconds);
  try {
    // Another apply may have loaded this very config while this one waited for the lock.
    if (!o.force) {
      const hit = await provenNoop(host, o.config);
      if (hit !== null) return hit;
    }
    // The listing is current when the generation did not move since it was taken; else it is taken again.
    let view = await before!;
    let generation = await rulesetGeneration(host);
    if (generation === null || generation !== view.generation) {
      view = await liveView(host, model.table);
      generation = view.generation;
    }
    // Every table nftlb may own under this name: the script's tables are replaced, a netdev table the config no longer
    // needs is deleted in the same transaction, and one of the script's names that nftlb did not make is refused.
    const owned = view.owned;
    const foreign = foreignTables(owned, tables);
    if (foreign.length > 0 && !o.force) throw foreignTable(foreign[0]!);
    const previous = previousFingerprint(owned);
    const stale = staleTables(owned, tables);
    // The inet table comes first in `owned`; its listing says what an in-place reload must empty.
    const inet = owned[0]?.live;
    const listing = inet?.kind === 'present' && inet.fingerprint !== null ? inet.listing : null;
    const persistence = await load(host, p, text, deleteTablesScript(stale), listing);
    const after = await rulesetGeneration(host);
    // Best effort: the records only save work (the no-op record) or improve `diff` (which trusts its record only while
    // the live fingerprint matches).
    const record = noopRecord(withState, {
      config: o.config,
      sha256,
      stateDigest: plannedStateDigest(health),
      before: generation,
      after,
      table: p.table,
      tables: base.tables,
      fingerprint,
      services: base.services,
      warnings,
    });
    await writeNoopRecord(host, o.config, record).catch(() => undefined);
    await writeApplyRecord(applyRecordFile(host.runDir, p.table), {
      table: p.table,
      fingerprint,
      services: viewOf(p),
    }).catch(() => undefined);
    return { kind: 'applied', ...base, previous, deleted: names(stale), persistence };
  } finally {
    await release();
  }
}

// The ruleset generation and nftlb's tables under a name, read in that order (so a listing is at least as new as the
// generation it is paired with; a generation that moves afterwards makes apply read both again).
async function liveView(host: Host, table: string): Promise<{ generation: number | null; owned: OwnedTable[] }> {
  const generation = await rulesetGeneration(host);
  return { generation, owned: await readOwnedTables(host, table) };
}

// The outcome of an apply the record proves a no-op, or null.
async function provenNoop(host: Host, config: string): Promise<ApplyOutcome | null> {
  const r = await readNoopRecord(host, config);
  if ((await noopMiss(host, config, r)) !== null || r === null) return null;
  return {
    kind: 'unchanged',
    table: r.table,
    tables: r.tables,
    fingerprint: r.fingerprint,
    services: r.services,
    warnings: r.warnings,
  };
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
      await commitScript(host, `${renderNftScript(p, inPlace).text}${tail}`);
      return 'kept';
    } catch (e) {
      if (!(e instanceof NftlbError) || e.code !== 'nft-failed') throw e;
    }
  }
  await commitScript(host, `${script}${tail}`);
  return listing !== null && holdsEntries(listing) ? 'dropped' : null;
}
