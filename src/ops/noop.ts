import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Diagnostic } from '../common/diagnostic.js';
import { IDENTITY } from '../common/version.js';
import { overridesFile } from '../health/overrides.js';
import type { RecordKeeper } from '../health/round.js';
import { healthStateFile } from '../health/state-file.js';
import type { Model } from '../model/types.js';
import type { TraceOwner } from '../nft/trace.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import {
  fileIdentity,
  fileSha256,
  programIdentity,
  readStateFile,
  sameIdentity,
  type FileIdentity,
} from '../system/files.js';
import { rulesetGeneration } from '../system/genid.js';
import type { Host } from '../system/host.js';
import { processAlive } from '../system/process.js';
import { plannedState, plannedStateDigest, readPlannedState } from './planned-state.js';

// apply's no-op proof (README.md, nftlb apply): a record, written after a load, of everything the loaded script was
// made of and of the kernel right after it; a later apply that finds all of it unchanged has nothing to do, without
// reading, planning or rendering the config and without listing the ruleset. What it compares:
// - the config file: same path, and the same content (its identity when that proves it, else its sha256);
// - what apply plans with besides the config: nftlb health's state file and the operator's overrides file
//   (`nftlb backend`), by their identities or the digest of what desiredPlan takes from them (plannedStateDigest);
// - the nftlb version and the nft program (the same file);
// - the kernel's ruleset generation (src/system/genid.ts): the record is written only when the generation after the
//   load is the one before plus one, i.e. the load was the only change; an equal generation later means no
//   transaction at all since, on any table (the inet table, the DSR netdev table, every other): nothing replaced,
//   emptied or edited by hand. What the packet path does is no transaction: persistence entries that connections add
//   to the dynamic maps, and that time out, leave the generation as it is (a no-op keeps them, as it touches nothing);
// - `nftlb trace`: its own transactions (probe, rules in, rules out) advance the record (advanceNoopRecord) and name
//   the trace's owner while its rules are in: a running trace is left alone, one that died is a miss that apply
//   settles by removing its rules (judgeNoop's 'dead-trace').
// Anything that cannot be read or compared is a miss, and apply loads the config as usual.

/** Where a shared file of the plan was, and its identity when the record was made. */
export interface RecordedFile {
  readonly path: string;
  readonly id: FileIdentity | null;
  readonly settled: boolean;
}

/** The record of one load. */
export interface NoopRecord {
  readonly version: 2;
  readonly nftlb: string;
  readonly config: {
    readonly path: string;
    readonly id: FileIdentity;
    readonly settled: boolean;
    readonly sha256: string;
  };
  /** nftlb health's state file and the overrides file, and the digest of what the plan took from them. */
  readonly state: RecordedFile;
  readonly overrides: RecordedFile;
  readonly planned: string;
  readonly nft: FileIdentity | null;
  readonly generation: number;
  /** The `nftlb trace` whose rules the table holds besides the loaded ones, or null. */
  readonly trace: TraceOwner | null;
  /** What `apply` reports for an unchanged config. */
  readonly table: string;
  readonly tables: readonly string[];
  readonly fingerprint: string;
  readonly services: number;
  readonly warnings: readonly Diagnostic[];
}

// The record of a config file (by its absolute path), in the run directory: /run is emptied at boot, as the ruleset.
export function noopRecordFile(runDir: string, config: string): string {
  const h = createHash('sha256').update(resolve(config)).digest('hex').slice(0, 16);
  return join(runDir, `apply-${h}.noop.json`);
}

/** The inputs of a load, taken before they were read (identity first, so a change while reading shows as a change). */
export interface NoopInputs {
  readonly config: { readonly id: FileIdentity; readonly settled: boolean } | null;
  readonly state: RecordedFile;
  readonly overrides: RecordedFile;
  readonly nft: FileIdentity | null;
}

const NO_FILE: RecordedFile = { path: '', id: null, settled: false };

// Takes the identities of a load's config file and nft program (before reading the config); those of the state and
// overrides files come with withStateInputs once the config has named the table.
export async function noopInputs(host: Host, config: string): Promise<NoopInputs> {
  return {
    config: await fileIdentity(config),
    state: NO_FILE,
    overrides: NO_FILE,
    nft: await programIdentity(host.nft),
  };
}

// The state and overrides file inputs once the table name is known (the config names it).
export async function withStateInputs(host: Host, i: NoopInputs, table: string): Promise<NoopInputs> {
  return {
    ...i,
    state: await recordedFile(healthStateFile(host.stateDir, table)),
    overrides: await recordedFile(overridesFile(host.stateDir, table)),
  };
}

// A shared file of the plan as it is now (a missing one is settled: its absence cannot change unseen).
async function recordedFile(path: string): Promise<RecordedFile> {
  const st = await fileIdentity(path);
  return { path, id: st?.id ?? null, settled: st?.settled ?? true };
}

// The record of a load that was the only transaction between `before` and `after` (ruleset generations), or null
// when that is not proven (then no record is written and the next apply loads again).
export function noopRecord(
  i: NoopInputs,
  o: {
    config: string;
    sha256: string;
    planned: string;
    before: number | null;
    after: number | null;
    table: string;
    tables: readonly string[];
    fingerprint: string;
    services: number;
    warnings: readonly Diagnostic[];
  },
): NoopRecord | null {
  if (i.config === null || o.before === null || o.after === null || o.after !== o.before + 1) return null;
  return {
    version: 2,
    nftlb: IDENTITY,
    config: { path: resolve(o.config), id: i.config.id, settled: i.config.settled, sha256: o.sha256 },
    state: i.state,
    overrides: i.overrides,
    planned: o.planned,
    nft: i.nft,
    generation: o.after,
    trace: null,
    table: o.table,
    tables: o.tables,
    fingerprint: o.fingerprint,
    services: o.services,
    warnings: o.warnings,
  };
}

// Writes the record of a config (atomically), or removes a stale one when `r` is null (best effort either way: a
// missing record only costs the next apply a load).
export async function writeNoopRecord(host: Host, config: string, r: NoopRecord | null): Promise<void> {
  const file = noopRecordFile(host.runDir, config);
  if (r === null) await writeFileAtomic(file, 'null\n');
  else await writeFileAtomic(file, `${JSON.stringify(r)}\n`);
}

/** What the record says of an apply now: nothing to do; nothing but the rules of a trace that died (apply removes
 *  them, one transaction, and has nothing else to do); or a load, and why. */
export type NoopVerdict =
  | { readonly kind: 'hit'; readonly record: NoopRecord }
  | { readonly kind: 'dead-trace'; readonly record: NoopRecord; readonly owner: TraceOwner }
  | {
      readonly kind: 'miss';
      readonly why: string;
      /** Set when only the kernel's side is not proven (the ruleset changed since the load): the record still describes
       *  what a load of the config would be now (same text, health verdicts and overrides, nftlb and nft), so its
       *  fingerprint is the config's. */
      readonly inputs?: NoopRecord;
      /** The ruleset generation the judgement read, when it got that far (a caller under the lock uses it as its own
       *  read: nothing of nftlb's ran in between). */
      readonly generation?: number;
    };

const miss = (why: string): NoopVerdict => ({ kind: 'miss', why });

// What status and diff say when the live table carries the config's fingerprint but the record cannot prove that the
// table is as loaded: the ruleset changed since (a hand edit of its elements or rules would not show in a fingerprint,
// though another table's change moves the generation as well); apply then loads in full. undefined otherwise.
export function unprovenNote(verdict: NoopVerdict): string | undefined {
  if (verdict.kind !== 'miss' || verdict.inputs === undefined) return undefined;
  return `the ruleset changed since apply's last load of this config (a hand edit of this table, which its fingerprint does not show, or another table's change); nftlb apply loads it in full`;
}

// The fingerprint nftlb's live table carries when it holds the config as nftlb loaded it: the record's while the
// record still describes a load of the config (nftlb health's incremental updates and nftlb trace keep the fingerprint
// chain of the last full load, while the plan now has their verdicts), else the config's rendered now (`render`).
export function loadedFingerprint(verdict: NoopVerdict, render: () => string): string {
  if (verdict.kind === 'hit' || verdict.kind === 'dead-trace') return verdict.record.fingerprint;
  return verdict.inputs?.fingerprint ?? render();
}

// Judges the record of a config (as read by readNoopRecord) against the files, the programs and the kernel now.
// With `settle` (apply's no-op): a proof that had to read a file's content, because its identity in the record was not
// settled (written within 2 s of the record: a config generated just before apply, health's state file just after its
// change), writes the record again with the file's identity once that is settled, so that later proofs are by identity
// (the state file of 50,000 services takes 70-90 ms to read and digest, the config's sha256 ~40 ms). Best effort.
export async function judgeNoop(
  host: Host,
  config: string,
  record: NoopRecord | null,
  o: { readonly settle?: boolean } = {},
): Promise<NoopVerdict> {
  const r = record;
  if (r === null) return miss('no record of a load of this config');
  if (r.nftlb !== IDENTITY) return miss(`recorded by nftlb ${r.nftlb}, this is ${IDENTITY}`);
  if (r.config.path !== resolve(config)) return miss('recorded for another config file');
  // Identities first, then contents: a change while reading shows as a change.
  const cfg = await fileIdentity(config);
  if (cfg === null) return miss('the config file is gone');
  const cfgByIdentity = r.config.settled && sameIdentity(cfg.id, r.config.id);
  if (!cfgByIdentity && (await fileSha256(config)) !== r.config.sha256) return miss('the config changed');
  // The state directory is the host's (--state-dir, $NFTLB_STATE_DIR): another one plans with other files.
  if (
    r.state.path !== healthStateFile(host.stateDir, r.table) ||
    r.overrides.path !== overridesFile(host.stateDir, r.table)
  )
    return miss('recorded with another state directory');
  const state = await recordedFile(r.state.path);
  const overrides = await recordedFile(r.overrides.path);
  const byIdentity = (f: RecordedFile, n: RecordedFile): boolean => f.settled && sameIdentity(n.id, f.id);
  const filesByIdentity = byIdentity(r.state, state) && byIdentity(r.overrides, overrides);
  if (!filesByIdentity) {
    let digest: string;
    try {
      digest = plannedStateDigest(await readPlannedState(r.state.path, r.overrides.path, r.table));
    } catch {
      // An overrides file nftlb cannot use: the load says why (desiredPlan reads it again).
      return miss('the overrides file cannot be read');
    }
    if (digest !== r.planned) return miss("nftlb health's verdicts or the overrides changed");
  }
  if (!sameIdentity(await programIdentity(host.nft), r.nft)) return miss('another nft program');
  const g = await rulesetGeneration(host);
  if (g === null) return miss('the ruleset generation cannot be read');
  if (g !== r.generation) return { kind: 'miss', why: 'the ruleset changed since the load', inputs: r, generation: g };
  if (r.trace !== null && !(await processAlive(r.trace.pid, r.trace.start)))
    return { kind: 'dead-trace', record: r, owner: r.trace };
  const settles = (!cfgByIdentity && cfg.settled) || (!filesByIdentity && state.settled && overrides.settled);
  if (o.settle === true && settles) {
    const settled: NoopRecord = {
      ...r,
      config: cfgByIdentity || !cfg.settled ? r.config : { ...r.config, id: cfg.id, settled: true },
      ...(filesByIdentity || !state.settled || !overrides.settled ? {} : { state, overrides }),
    };
    // Unless another writer has moved the record on meanwhile (a load, health carrying it).
    if ((await readNoopRecord(host, config))?.generation === r.generation)
      await writeNoopRecord(host, config, settled).catch(() => undefined);
  }
  return { kind: 'hit', record: r };
}

// Why the record does not prove a no-op, or null when it does (a dead trace's rules are a reason: they must go).
export async function noopMiss(
  host: Host,
  config: string,
  record: NoopRecord | null,
  o: { readonly settle?: boolean } = {},
): Promise<string | null> {
  const v = await judgeNoop(host, config, record, o);
  return v.kind === 'hit' ? null : v.kind === 'miss' ? v.why : `the rules of nftlb trace pid ${v.owner.pid} (dead)`;
}

// The record of a config, or null when there is none (or it is not one).
export async function readNoopRecord(host: Host, config: string): Promise<NoopRecord | null> {
  try {
    const text = await readStateFile(noopRecordFile(host.runDir, config), 'the record of the last apply');
    if (text === null) return null;
    const v = JSON.parse(text) as Partial<NoopRecord> | null;
    if (v === null || v.version !== 2 || typeof v.generation !== 'number' || typeof v.fingerprint !== 'string')
      return null;
    if (v.trace !== null && (typeof v.trace?.pid !== 'number' || typeof v.trace.start !== 'number')) return null;
    return v as NoopRecord;
  } catch {
    return null;
  }
}

// After a transaction of nftlb's own that leaves the loaded tables as they were but for runtime state (`nftlb trace`'s
// probe and rules, `nftlb persistence flush`'s removal of entries): the record of `config`, when it was current
// before that transaction (`before`) and the transaction was the only one since (`after` is one more), is current
// again; `change.trace` names the trace whose rules the table now holds (null: none; absent: as recorded). Otherwise
// nothing is written (the next apply loads). No lock needed: whatever the order of writers, a record only ever
// describes the table at its own generation. Best effort.
export async function advanceNoopRecord(
  host: Host,
  config: string,
  before: number | null,
  after: number | null,
  change: { readonly trace?: TraceOwner | null } = {},
): Promise<void> {
  if (before === null || after === null || after !== before + 1) return;
  try {
    const r = await readNoopRecord(host, config);
    if (r === null || r.generation !== before) return;
    await writeNoopRecord(host, config, {
      ...r,
      generation: after,
      trace: change.trace === undefined ? r.trace : change.trace,
    });
  } catch {
    // A missing record only costs the next apply a load.
  }
}

// Runs one such transaction (see advanceNoopRecord) between two reads of the generation, and carries the record of
// `config` past it; without a config, just runs it.
export async function carryNoopRecord<T>(
  host: Host,
  config: string | undefined,
  change: { readonly trace?: TraceOwner | null },
  transaction: () => Promise<T>,
): Promise<T> {
  if (config === undefined) return transaction();
  const before = await rulesetGeneration(host);
  const out = await transaction();
  await advanceNoopRecord(host, config, before, await rulesetGeneration(host), change);
  return out;
}

// Keeps the record true across nftlb health's own transactions (src/health/round.ts, RecordKeeper). After a sync,
// health's state file describes the table it left: the one apply would load for the same config and the new state
// (an update leaves exactly the table a full load of the new plan makes: test/kernel/health-incremental-forms; a full
// reload by health loads that very script, with its guard chain). So when the record of `config` was current before
// the sync (its generation then), the sync was the only transaction since (the generation now is one more), and health
// planned from the very text the record was made of (same sha256), the record is carried to the new generation, with
// the identities of the state and overrides files as they are now, the digest of what the sync planned with (its state,
// as written, and its overrides) and, after a full reload, its fingerprint. The next apply of an
// unchanged config is then a no-op, which keeps health's guard chain, and with it health's next update incremental
// (a load of the table would replace both). Anything else leaves the record as it is: the next apply loads.
// `shaOf` gives the sha256 of the config text a model was read from (undefined when unknown: nothing is carried).
export function noopRecordKeeper(
  host: Host,
  config: string,
  shaOf: (model: Model) => string | undefined,
): RecordKeeper {
  return {
    before: () => readNoopRecord(host, config),
    async after(model, before, out) {
      const r = before as NoopRecord | null | undefined;
      if (r === null || r === undefined || r.trace !== null || r.table !== model.table) return;
      if (shaOf(model) !== r.config.sha256) return;
      const after = await rulesetGeneration(host);
      if (after === null || after !== r.generation + 1) return;
      // The files as the sync left them (a later change shows as a change; one since the sync, by `nftlb backend`, comes
      // with a transaction of its own, which leaves this record behind).
      if (r.state.path !== healthStateFile(host.stateDir, r.table)) return;
      if (r.overrides.path !== overridesFile(host.stateDir, r.table)) return;
      const state = await recordedFile(r.state.path);
      const overrides = await recordedFile(r.overrides.path);
      // What the sync planned with: its state (as written) and the overrides it synced with.
      const planned = plannedStateDigest(plannedState(out.state, out.state.overrides ?? {}));
      // Another writer of the record since `before` (an apply that loaded) leaves it alone.
      if ((await readNoopRecord(host, config))?.generation !== r.generation) return;
      await writeNoopRecord(host, config, {
        ...r,
        state,
        overrides,
        planned,
        generation: after,
        fingerprint: out.fingerprint ?? r.fingerprint,
      });
    },
  };
}
