import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../system/atomic-write.js';
import type { ServiceView } from './view.js';

// What nftlb remembers of its last apply: the fingerprint it loaded and the services behind it. `diff` trusts it only
// while the live table still carries the same fingerprint, so a stale or edited file cannot make it lie.
export interface AppliedState {
  readonly table: string;
  readonly fingerprint: string;
  readonly services: readonly ServiceView[];
}

// The state file of a table: next to the lock file (/run/nftlb/<table>.applied.json by default).
export function stateFileFor(lockFile: string, table: string): string {
  return join(dirname(lockFile), `${table}.applied.json`);
}

// Records a successful apply (atomically, so a reader sees the old or the new record, never half of one).
export async function writeAppliedState(file: string, s: AppliedState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(s)}\n`);
}

// The recorded apply, or null when there is none or it cannot be read.
export async function readAppliedState(file: string): Promise<AppliedState | null> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as Partial<AppliedState>;
    if (typeof v.fingerprint !== 'string' || typeof v.table !== 'string' || !Array.isArray(v.services)) return null;
    return v as AppliedState;
  } catch {
    return null;
  }
}
