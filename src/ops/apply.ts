import type { Diagnostic } from '../common/diagnostic.js';
import { loadModel } from '../config/read.js';
import { renderNftScript } from '../nft/script.js';
import { desiredPlan } from './desired.js';
import type { Executor } from '../system/executor.js';
import { acquireLock } from '../system/lock.js';
import { checkAndLoad, readLiveTable } from '../system/nft.js';
import { stateFileFor, writeAppliedState } from './apply-record.js';
import { viewOf } from './view.js';

// What `nftlb apply` was asked to do.
export interface ApplyOptions {
  readonly config: string;
  /** The nft program (see nftProgram). */
  readonly nft: string;
  readonly lockFile: string;
  /** Seconds to wait for another apply to finish; 0 fails at once with lock-busy. */
  readonly waitSeconds: number;
  /** Print the script instead of loading it; touches nothing. */
  readonly dryRun: boolean;
  /** Load even when the live table already carries this config's fingerprint. */
  readonly force: boolean;
  /** For $NFTLB_STATE_DIR (health verdicts, see desiredPlan). */
  readonly env: NodeJS.ProcessEnv;
}

// How an apply ended (failures are thrown as NftlbError).
export type ApplyOutcome =
  | {
      readonly kind: 'applied';
      readonly table: string;
      readonly fingerprint: string;
      readonly previous: string | null;
      readonly services: number;
      readonly warnings: readonly Diagnostic[];
    }
  | {
      readonly kind: 'unchanged';
      readonly table: string;
      readonly fingerprint: string;
      readonly services: number;
      readonly warnings: readonly Diagnostic[];
    }
  | {
      readonly kind: 'dry-run';
      readonly table: string;
      readonly fingerprint: string;
      readonly services: number;
      readonly script: string;
      readonly warnings: readonly Diagnostic[];
    };

// load -> validate -> render -> (lock) -> compare fingerprint with the live table -> nft -c -f - -> nft -f -.
// Every failure happens before nft commits, or is nft's own all-or-nothing commit failing, so the live ruleset is then
// exactly what it was.
export async function applyConfig(exec: Executor, o: ApplyOptions): Promise<ApplyOutcome> {
  const { model, warnings } = await loadModel(o.config);
  const { plan: p } = await desiredPlan(model, o.env);
  const { text, fingerprint } = renderNftScript(p);
  const base = { table: p.table as string, fingerprint, services: p.services.length, warnings };
  if (o.dryRun) return { kind: 'dry-run', ...base, script: text };
  const release = await acquireLock(exec, o.lockFile, o.waitSeconds);
  try {
    const live = await readLiveTable(exec, o.nft, p.table);
    const previous = live.kind === 'present' ? live.fingerprint : null;
    if (!o.force && previous === fingerprint) return { kind: 'unchanged', ...base };
    await checkAndLoad(exec, o.nft, text);
    // Best effort: the record only improves `diff`, which does not trust it unless the live fingerprint matches.
    await writeAppliedState(stateFileFor(o.lockFile, p.table), {
      table: p.table,
      fingerprint,
      services: viewOf(p),
    }).catch(() => undefined);
    return { kind: 'applied', ...base, previous };
  } finally {
    await release();
  }
}
