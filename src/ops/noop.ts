import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Diagnostic } from '../common/diagnostic.js';
import { VERSION } from '../common/version.js';
import { healthStateFile, readHealthState } from '../health/state-file.js';
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
import { plannedStateDigest } from './planned-state.js';

// apply's no-op proof (README.md, nftlb apply): a record, written after a load, of everything the loaded script was
// made of and of the kernel right after it; a later apply that finds all of it unchanged has nothing to do, without
// reading, planning or rendering the config and without listing the ruleset. What it compares:
// - the config file: same path, and the same content (its identity when that proves it, else its sha256);
// - nftlb health's state file: what apply plans with (plannedStateDigest), by its identity or its digest;
// - the nftlb version and the nft program (the same file);
// - the kernel's ruleset generation (src/system/genid.ts): the record is written only when the generation after the
//   load is the one before plus one, i.e. the load was the only change; an equal generation later means no
//   transaction at all since, on any table: nothing replaced, emptied or edited by hand.
// Anything that cannot be read or compared is a miss, and apply loads the config as usual.

/** The record of one load. */
export interface NoopRecord {
  readonly version: 1;
  readonly nftlb: string;
  readonly config: {
    readonly path: string;
    readonly id: FileIdentity;
    readonly settled: boolean;
    readonly sha256: string;
  };
  readonly state: {
    readonly path: string;
    readonly id: FileIdentity | null;
    readonly settled: boolean;
    readonly digest: string;
  };
  readonly nft: FileIdentity | null;
  readonly generation: number;
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
  readonly state: { readonly path: string; readonly id: FileIdentity | null; readonly settled: boolean };
  readonly nft: FileIdentity | null;
}

// Takes the identities of a load's config file and nft program (before reading the config); the state file's comes
// with withStateInputs once the config has named the table.
export async function noopInputs(host: Host, config: string): Promise<NoopInputs> {
  return {
    config: await fileIdentity(config),
    state: { path: '', id: null, settled: false },
    nft: await programIdentity(host.nft),
  };
}

// The state file inputs once the table name is known (the config names it).
export async function withStateInputs(host: Host, i: NoopInputs, table: string): Promise<NoopInputs> {
  const path = healthStateFile(host.stateDir, table);
  const st = await fileIdentity(path);
  return { ...i, state: { path, id: st?.id ?? null, settled: st?.settled ?? true } };
}

// The record of a load that was the only transaction between `before` and `after` (ruleset generations), or null
// when that is not proven (then no record is written and the next apply loads again).
export function noopRecord(
  i: NoopInputs,
  o: {
    config: string;
    sha256: string;
    stateDigest: string;
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
    version: 1,
    nftlb: VERSION,
    config: { path: resolve(o.config), id: i.config.id, settled: i.config.settled, sha256: o.sha256 },
    state: { path: i.state.path, id: i.state.id, settled: i.state.settled, digest: o.stateDigest },
    nft: i.nft,
    generation: o.after,
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

// Why the record does not prove a no-op, or null when it does. `record` as read by readNoopRecord.
export async function noopMiss(host: Host, config: string, record: NoopRecord | null): Promise<string | null> {
  const r = record;
  if (r === null) return 'no record of a load of this config';
  if (r.nftlb !== VERSION) return `recorded by nftlb ${r.nftlb}`;
  if (r.config.path !== resolve(config)) return 'recorded for another config file';
  const cfg = await fileIdentity(config);
  if (cfg === null) return 'the config file is gone';
  if (!(r.config.settled && sameIdentity(cfg.id, r.config.id)) && (await fileSha256(config)) !== r.config.sha256)
    return 'the config changed';
  const st = await fileIdentity(r.state.path);
  if (!(r.state.settled && sameIdentity(st?.id ?? null, r.state.id))) {
    const state = await readHealthState(r.state.path, r.table);
    if (plannedStateDigest(state) !== r.state.digest) return "nftlb health's verdicts changed";
  }
  if (!sameIdentity(await programIdentity(host.nft), r.nft)) return 'another nft program';
  const g = await rulesetGeneration(host);
  if (g === null) return 'the ruleset generation cannot be read';
  if (g !== r.generation) return 'the ruleset changed since the load';
  return null;
}

// The record of a config, or null when there is none (or it is not one).
export async function readNoopRecord(host: Host, config: string): Promise<NoopRecord | null> {
  try {
    const text = await readStateFile(noopRecordFile(host.runDir, config), 'the record of the last apply');
    if (text === null) return null;
    const v = JSON.parse(text) as Partial<NoopRecord> | null;
    if (v === null || v.version !== 1 || typeof v.generation !== 'number' || typeof v.fingerprint !== 'string')
      return null;
    return v as NoopRecord;
  } catch {
    return null;
  }
}
