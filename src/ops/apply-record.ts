import { join } from 'node:path';
import { readStateFile } from '../system/files.js';
import type { ServiceView } from './view.js';

// What nftlb apply remembers of its last load: the fingerprint it loaded and the services behind it, in config terms.
// `diff` trusts it only while the live table still carries the same fingerprint, so a stale or edited file cannot make
// it lie. (nftlb health keeps its own record of what it built the table with, in its state file.)
export interface ApplyRecord {
  readonly table: string;
  readonly fingerprint: string;
  readonly services: readonly ServiceView[];
  /** The forward filter (forwardView); absent in records of configs without one (and of older nftlb versions). */
  readonly forward?: string;
}

// The record of a table, in the run directory (next to the lock file: /run/nftlb/<table>.applied.json by default).
// /run is emptied at boot, as the kernel's tables are.
export function applyRecordFile(runDir: string, table: string): string {
  return join(runDir, `${table}.applied.json`);
}

// The text of a record, in two steps: the services (most of it, ~40 ms at 10k services) before the load's fingerprint is
// known, so apply makes them while it waits for the lock and the kernel; the whole text once it is. Written atomically
// after the load, so a reader sees the old or the new record, never half of one. The same text as JSON.stringify of
// the record, key for key.
export function applyRecordText(s: Omit<ApplyRecord, 'fingerprint'>): (fingerprint: string) => string {
  const services = JSON.stringify(s.services);
  const forward = s.forward === undefined ? '' : `,"forward":${JSON.stringify(s.forward)}`;
  return (fingerprint) =>
    `{"table":${JSON.stringify(s.table)},"fingerprint":${JSON.stringify(fingerprint)},"services":${services}${forward}}\n`;
}

// The recorded apply, or null when there is none or it cannot be used (unreadable, not a record): `diff` then says
// that the live table's content is not known in config terms, which is true.
export async function readApplyRecord(file: string): Promise<ApplyRecord | null> {
  try {
    const text = await readStateFile(file, 'the record of the last apply');
    if (text === null) return null;
    const v = JSON.parse(text) as Partial<ApplyRecord>;
    if (typeof v.fingerprint !== 'string' || typeof v.table !== 'string' || !Array.isArray(v.services)) return null;
    return v as ApplyRecord;
  } catch {
    return null;
  }
}
