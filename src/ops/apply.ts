import type { Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import type { TableRef } from '../nft/ast.js';
import { holdsEntries, reloadInPlace } from '../nft/in-place.js';
import { ENTRY_MAPS } from '../nft/persistence.js';
import {
  deltaScript,
  imageCollector,
  imageText,
  tableImage,
  type ImageCollector,
  type TableImage,
} from '../nft/image.js';
import { loadModelAndDigest } from '../system/config-file.js';
import { ident } from '../nft/names.js';
import { scriptTableRefs } from '../nft/tables.js';
import { renderNftScript, streamNftScript, type InPlace } from '../nft/script.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { commitStream, foreignTable } from '../system/nft.js';
import {
  deleteTablesScript,
  foreignTables,
  listOwnedFamilies,
  ownedTablesOf,
  previousFingerprint,
  staleTables,
} from '../system/owned-tables.js';
import { removeDeadStaged, stageFile, type StagedFile } from '../system/atomic-write.js';
import { rulesetGeneration } from '../system/genid.js';
import { applyRecordFile, applyRecordText } from './apply-record.js';
import {
  readApplyImage,
  stageApplyImage,
  writeApplyImage,
  type ReadImage,
  type RecordedImage,
  type StagedImage,
} from './apply-image.js';
import type { Plan } from '../plan/types.js';
import { desiredPlan } from './desired.js';
import { plannedStateDigest } from './planned-state.js';
import { judgeNoop, noopInputs, noopRecord, readNoopRecord, withStateInputs, writeNoopRecord } from './noop.js';
import { forwardView, viewOf } from './view.js';
import { clearTrace, keepLive } from './trace.js';

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
  /** The caller has just asked the no-op record of this config, which proved nothing: not asked again before the
   *  config is read (it still is under the lock). */
  readonly noopMissed?: boolean;
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
      /** How the table was loaded: a delta from the image of the last load (what it changed), or in full. */
      readonly delta: LoadDelta | null;
      /** Why a record of the load could not be written (a read-only or full lock directory), when one could not. */
      readonly unrecorded?: string;
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

/** What a delta load changed (src/nft/image.ts): chains rewritten, new or deleted; elements deleted or added; sets
 *  and maps new or deleted. */
export interface LoadDelta {
  readonly chains: number;
  readonly elements: number;
  readonly sets: number;
  /** With DSR services: the netdev table, which every load replaces whole (the counts are of the inet table). */
  readonly dsrTable?: string;
}

// record proves a no-op? -> (the ruleset generation and the cheap listing of nftlb's tables, asked meanwhile) -> load ->
// validate -> plan -> (lock) -> record proves a no-op? -> nft -f - of the script as it is rendered. Every failure happens
// before nft commits, or is nft's own all-or-nothing commit failing, so the live ruleset is then exactly what it was.
// "unchanged" comes only from the no-op record (src/ops/noop.ts); without it the config is loaded (nft -f of the whole
// script costs about what a listing that could compare it would).
export async function applyConfig(host: Host, o: ApplyOptions): Promise<ApplyOutcome> {
  if (!o.force && !o.dryRun && o.noopMissed !== true) {
    const hit = await provenNoop(host, o.config);
    if (hit !== null) return hit;
  }
  const inputs = await noopInputs(host, o.config);
  const { model, warnings, sha256 } = await loadModelAndDigest(o.config);
  // The image of the last load (src/ops/apply-image.ts), and what the kernel holds now, asked while the config is
  // planned (a config that is not valid runs no nft at all): the ruleset generation, then the cheap listing of nftlb's
  // tables unless the generation is the image's, which proves the live table is the image (no listing needed).
  const recorded = o.dryRun || o.force ? undefined : readApplyImage(host.runDir, model.table);
  recorded?.catch(() => undefined);
  const early = o.dryRun ? undefined : liveView(host, recorded);
  early?.catch(() => undefined);
  const withState = await withStateInputs(host, inputs, model.table);
  const { plan: p, health } = await desiredPlan(model, host);
  const names = (ts: readonly TableRef[]): string[] => ts.map((t) => `${t.family} ${t.name}`);
  const tables = scriptTableRefs(p);
  const base = { table: p.table, tables: names(tables), services: p.services.length, warnings };
  if (o.dryRun) {
    const { text, fingerprint } = renderNftScript(p);
    return { kind: 'dry-run', ...base, fingerprint, script: text };
  }
  const locked = acquireLock(host, o.waitSeconds);
  locked.catch(() => undefined);
  // The record for `diff`, but for the fingerprint (~40 ms at 10k services): made while nft commits a full load, which
  // leaves node idle; but before the lock is taken when a delta is likely (an image as new as the ruleset), whose
  // commit is too short to hide it, and flock's start hides part of it. A failure still releases the lock.
  const diffRecord = (): ((fingerprint: string) => string) =>
    applyRecordText({
      table: p.table,
      services: viewOf(p),
      ...(p.forward === undefined ? {} : { forward: forwardView(p) }),
    });
  let earlyRecord: ((fingerprint: string) => string) | undefined;
  try {
    const view = await early!.catch(() => undefined);
    if (view?.listing === null) earlyRecord = diffRecord();
  } catch (e) {
    await locked.then((free) => free()).catch(() => undefined);
    throw e;
  }
  const release = await locked;
  try {
    // What an apply killed before it committed or dropped its staged records left (under the lock: none is in use).
    await removeDeadStaged(host.runDir);
    // Another apply may have loaded this very config while this one waited for the lock: only a record of the text
    // read here can say so (one of other text, or none, is a miss without hashing the file again).
    // The generation the record's judgement read under this lock is this apply's own read (one perl fewer).
    let judged: number | undefined;
    if (!o.force) {
      const hit = await provenNoop(host, o.config, sha256, (g) => (judged = g));
      if (hit !== null) return hit;
    }
    let view = await early!;
    // The records of the load (no-op record, image, record for diff) only save work: one that cannot be written does
    // not fail the load, but is said (the next apply then loads in full, and diff cannot name what changed).
    let unrecorded: string | undefined;
    const unwritten = (e: unknown): null => {
      unrecorded ??= e instanceof Error ? e.message : String(e);
      return null;
    };
    let generation = judged ?? (await rulesetGeneration(host));
    const last = recorded === undefined ? null : await recorded;
    // While nft commits, the record for `diff` and the image of the load are written beside their files, and put in
    // place once the load is done (the image only once it is proven the only transaction). A load that falls back to
    // another form (in place refused, a delta refused) stages them again.
    let stagedRecord: Promise<StagedFile | null> | undefined;
    let stagedImage: Promise<StagedImage | null> | undefined;
    const dropStaged = (): Promise<unknown> =>
      Promise.all([stagedRecord?.then((f) => f?.abort()), stagedImage?.then((f) => f?.abort())]);
    // What a load that fell back to another form had staged is dropped while the next form commits; apply returns only
    // once that is done too (nftlb exits as soon as a command returns).
    let dropped: Promise<unknown> = Promise.resolve();
    const whileCommitting = (fp: string, imageText: string): void => {
      dropped = Promise.all([dropped, dropStaged()]);
      const applied = (earlyRecord ?? diffRecord())(fp);
      stagedRecord = stageFile(applyRecordFile(host.runDir, p.table), applied).catch(unwritten);
      stagedImage = stageApplyImage(host.runDir, p.table, imageText).catch(unwritten);
    };
    // The image of the last load is the live table when no transaction happened since that load (the generation is
    // the one right after it): then only the difference is sent, and nothing needs listing (nftlb's tables are the
    // ones that load left: the inet table the image shows, and the netdev table when it says so, which a delta replaces
    // whole, as every load does).
    let loaded: Loaded | undefined;
    let previous: string | null = null;
    let stale: TableRef[] = [];
    try {
      const proven = last !== null && generation !== null && last.generation === generation ? last.image() : null;
      if (proven !== null) {
        loaded = await loadDelta(host, p, proven, whileCommitting);
        previous = proven.fingerprint;
        stale = [...(loaded?.deleted ?? [])];
      }
      if (loaded === undefined) {
        // The listing is current when the generation did not move since it was taken; else it is taken again.
        if (view.listing === null || generation === null || generation !== view.generation) {
          view = await liveView(host);
          generation = view.generation;
        }
        // Every table nftlb may own under this name: the script's tables are replaced, a netdev table the config no
        // longer needs is deleted in the same transaction, and one of the script's names that nftlb did not make is
        // refused.
        const owned = await ownedTablesOf(host, view.listing!, p.table);
        const foreign = foreignTables(owned, tables);
        if (foreign.length > 0 && !o.force) throw foreignTable(foreign[0]!);
        previous = previousFingerprint(owned);
        stale = staleTables(owned, tables);
        // The inet table comes first in `owned`; its listing says what an in-place reload must empty. A load replaces
        // the table, and with it the rules of any `nftlb trace` (a running one reports the reload).
        const inet = owned[0]?.live;
        const listing = inet?.kind === 'present' && inet.fingerprint !== null ? inet.listing : null;
        loaded = await load(host, p, deleteTablesScript(stale), listing, whileCommitting);
      }
    } catch (e) {
      await Promise.all([dropped, dropStaged()]);
      throw e;
    }
    const { persistence, fingerprint } = loaded;
    // Best effort: the records only save work (the no-op record, the image) or improve `diff` (which trusts its record
    // only while the live fingerprint matches). The record for `diff` is put in place while the generation is read.
    const [after] = await Promise.all([
      rulesetGeneration(host),
      stagedRecord?.then((f) => f?.commit()).catch(unwritten),
      dropped,
    ]);
    const image: RecordedImage | null =
      generation !== null && after !== null && after === generation + 1
        ? { generation: after, text: loaded.imageText }
        : null;
    const staged = await stagedImage;
    if (image !== null && staged !== null && staged !== undefined)
      await staged.commit(image.generation).catch(unwritten);
    else {
      await staged?.abort();
      if (image !== null || last !== null) await writeApplyImage(host.runDir, p.table, image).catch(unwritten);
    }
    const record = noopRecord(withState, {
      config: o.config,
      sha256,
      planned: plannedStateDigest(health),
      before: generation,
      after,
      table: p.table,
      tables: base.tables,
      fingerprint,
      services: base.services,
      warnings,
    });
    await writeNoopRecord(host, o.config, record).catch(unwritten);
    return {
      kind: 'applied',
      ...base,
      fingerprint,
      previous,
      deleted: names(stale),
      persistence,
      delta: loaded.delta ?? null,
      ...(unrecorded === undefined ? {} : { unrecorded }),
    };
  } finally {
    await release();
  }
}

// The ruleset generation and the cheap listing of nftlb's families, read in that order (so the listing is at least as
// new as the generation it is paired with; a generation that moves afterwards makes apply read both again).
// With the image of the last load: no listing (null) when the generation is the image's (see applyConfig).
async function liveView(
  host: Host,
  image?: Promise<ReadImage | null>,
): Promise<{ generation: number | null; listing: string | null }> {
  const generation = await rulesetGeneration(host);
  const last = image === undefined ? null : await image.catch(() => null);
  if (last !== null && generation !== null && last.generation === generation) return { generation, listing: null };
  return { generation, listing: await listOwnedFamilies(host) };
}

// The outcome of an apply the record proves a no-op, or null. With the lock held (`locked`), the rules of an
// `nftlb trace` that died are removed first (as main's apply did for an unchanged table): the record proves the table
// is the loaded one plus those rules, so their removal leaves it as loaded, and the record follows that transaction.
// Without the lock such a record is a miss (the caller asks again under the lock). Under the lock, `loaded` is the
// digest of the config text this apply read: a record of other text is a miss. `judged` gets the ruleset generation a
// miss read (the ruleset moved since the record), never one read before a transaction of this apply's own.
async function provenNoop(
  host: Host,
  config: string,
  loaded?: string,
  judged?: (generation: number) => void,
): Promise<ApplyOutcome | null> {
  const locked = loaded !== undefined;
  const record = await readNoopRecord(host, config);
  if (locked && record?.config.sha256 !== loaded) return null;
  const v = await judgeNoop(host, config, record, { settle: true });
  if (v.kind === 'miss') {
    if (v.generation !== undefined) judged?.(v.generation);
    return null;
  }
  if (v.kind === 'dead-trace' && !locked) return null;
  const r = v.record;
  if (v.kind === 'dead-trace') {
    try {
      const cleared = await clearTrace(host, { family: 'inet', name: ident(r.table) }, keepLive, config);
      if (cleared.kind === 'kept') return null;
    } catch {
      // Whatever kept the rules from going: a load replaces them with the table.
      return null;
    }
    if ((await judgeNoop(host, config, await readNoopRecord(host, config))).kind !== 'hit') return null;
  }
  return {
    kind: 'unchanged',
    table: r.table,
    tables: r.tables,
    fingerprint: r.fingerprint,
    services: r.services,
    warnings: r.warnings,
  };
}

/** What a load did: the persistence entries' fate, the fingerprint loaded, the image of what was loaded (as JSON,
 *  imageText: made while nft committed, written once the load is proven the only transaction), and what a delta
 *  changed. */
interface Loaded {
  readonly persistence: 'kept' | 'dropped' | null;
  readonly fingerprint: string;
  readonly imageText: string;
  /** nftlb's tables a delta deleted (a netdev table the config no longer needs). */
  readonly deleted?: readonly TableRef[];
  readonly delta?: LoadDelta;
}

// Loads the plan over `previous`, which the caller has proven to be the live table, by a delta (src/nft/image.ts);
// undefined when a delta cannot do it (a set declared otherwise...) or nft refuses it: nothing was changed, and the
// caller loads in full. `whileCommitting` as for load().
async function loadDelta(
  host: Host,
  p: Plan,
  previous: TableImage,
  whileCommitting: (fingerprint: string, imageText: string) => void,
): Promise<Loaded | undefined> {
  const next = tableImage(p);
  const delta = deltaScript(previous, next);
  if (delta === undefined) return undefined;
  let text = '';
  try {
    await commitStream(host, [delta.script], () => {
      text = imageText(delta.image);
      whileCommitting(next.fingerprint, text);
    });
  } catch (e) {
    if (!(e instanceof NftlbError) || e.code !== 'nft-failed') throw e;
    return undefined;
  }
  const { chains, elements, sets } = delta;
  const entries = previous.sets.some((x) => ENTRY_MAPS.includes(x.name));
  return {
    persistence: delta.keepsEntries ? 'kept' : entries ? 'dropped' : null,
    fingerprint: next.fingerprint,
    imageText: text,
    delta: {
      chains,
      elements,
      sets,
      ...(next.dsr === null ? {} : { dsrTable: `${next.dsr.family} ${next.dsr.name}` }),
    },
    deleted: delta.deleted,
  };
}

// Loads the plan over nftlb's live table (its listing; null when there is none or it is not nftlb's): reloaded in place
// (src/nft/in-place.ts: nothing the packet path uses is deleted, persistence entries stay), else replaced whole; `tail`
// goes in the same transaction. The script is written to nft as it is rendered; `whileCommitting` gets the fingerprint
// and the image's text once all of it is written, and runs while nft commits. A script that reloads in place and is refused (the live table
// is not what its listing said any more, or a declaration the kernel will not change in place) falls back to the whole
// replacement, which drops the entries. The image of what was loaded comes back for the next apply.
export async function load(
  host: Host,
  p: Plan,
  tail: string,
  listing: string | null,
  whileCommitting: (fingerprint: string, imageText: string) => void = () => undefined,
): Promise<Loaded> {
  const [inet, dsr] = scriptTableRefs(p);
  const send = async (inPlace: InPlace | undefined): Promise<{ fingerprint: string; imageText: string }> => {
    const collect: ImageCollector = imageCollector();
    const s = streamNftScript(p, inPlace, collect.sink);
    let fingerprint = '';
    const pieces = function* (): Generator<string> {
      fingerprint = yield* s.pieces;
      yield tail;
    };
    // While nft commits, node has nothing else to do: the caller's work, and the image and its text for the next apply.
    let text = '';
    await commitStream(host, pieces(), () => {
      text = imageText(collect.image(inet!, fingerprint, dsr ?? null));
      whileCommitting(fingerprint, text);
    });
    return { fingerprint, imageText: text };
  };
  const inPlace = listing === null ? undefined : reloadInPlace(p, listing);
  if (inPlace !== undefined) {
    try {
      const sent = await send(inPlace);
      return { persistence: inPlace.entries ? 'kept' : holdsEntries(listing!) ? 'dropped' : null, ...sent };
    } catch (e) {
      if (!(e instanceof NftlbError) || e.code !== 'nft-failed') throw e;
    }
  }
  const sent = await send(undefined);
  return { persistence: listing !== null && holdsEntries(listing) ? 'dropped' : null, ...sent };
}
