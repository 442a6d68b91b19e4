import { join } from 'node:path';
import { NftlbError } from '../common/errors.js';
import type { Override } from '../plan/types.js';
import { writeFileAtomic } from '../system/atomic-write.js';
import { readStateFile } from '../system/files.js';

// The operator's runtime overrides of backend states (`nftlb backend drain|undrain|down|up`), one file per table in the
// state directory. It is their only record: `nftlb apply`, `nftlb health` and `nftlb status` read it, and only
// `nftlb backend` writes it (atomically, under the apply lock), so a running `nftlb health --watch`, which rewrites its
// own state file after every round, cannot lose one.

/** The file format. */
export const OVERRIDES_VERSION = 1;

/** One backend's override: its state and when it was set. */
export interface OverrideRecord {
  readonly state: Override;
  /** ISO time it was set. */
  readonly since: string;
}

/** The overrides of one table, by backend key (service/endpoint). */
export interface Overrides {
  readonly version: typeof OVERRIDES_VERSION;
  readonly table: string;
  readonly backends: Readonly<Record<string, OverrideRecord>>;
}

// The overrides file of a table.
export function overridesFile(dir: string, table: string): string {
  return join(dir, `overrides-${table}.json`);
}

// No overrides.
export function noOverrides(table: string): Overrides {
  return { version: OVERRIDES_VERSION, table, backends: {} };
}

// Reads the overrides of a table; a missing file is none. A file that is not what nftlb writes is an error naming it:
// an override is an operator's decision, so nftlb does not guess (dropping it would put a drained backend back).
export async function readOverrides(file: string, table: string): Promise<Overrides> {
  const text = await readStateFile(file, 'the backend overrides');
  if (text === null) return noOverrides(table);
  let why: string;
  try {
    const v = JSON.parse(text) as unknown;
    if (!isRecord(v) || v['version'] !== OVERRIDES_VERSION) why = `expected version ${OVERRIDES_VERSION}`;
    else if (v['table'] !== table) why = `it is for table ${JSON.stringify(v['table'])}, not ${table}`;
    else if (!isRecord(v['backends']) || !Object.values(v['backends']).every(isOverrideRecord))
      why = 'expected backends: { "service/endpoint": { "state": "drain" | "down", "since": time } }';
    else return v as unknown as Overrides;
  } catch (e) {
    why = (e as Error).message;
  }
  throw new NftlbError('host-fault', `cannot use the backend overrides ${file}: ${why}`, {
    detail: 'fix the file, or remove it to drop every override of the table',
  });
}

// Writes the overrides atomically.
export async function writeOverrides(file: string, o: Overrides): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(o, null, 1)}\n`);
}

// The states of the overrides by backend key, as the planner takes them.
export function overrideStates(o: Overrides): Record<string, Override> {
  const out: Record<string, Override> = {};
  for (const [k, r] of Object.entries(o.backends)) out[k] = r.state;
  return out;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isOverrideRecord(x: unknown): x is OverrideRecord {
  return isRecord(x) && (x['state'] === 'drain' || x['state'] === 'down') && typeof x['since'] === 'string';
}
