import { dirname } from 'node:path';
import type { Override } from '../plan/types.js';
import { fileStamp, readMark } from '../system/marks.js';
import { overridesFile, overrideStates, readOverrides } from './overrides.js';
import { pendingMark, readHealthState, type HealthState } from './state-file.js';

// The files several nftlb processes share for one table, and how each process stays in step with the others.
//
// `nftlb health` (--once from cron, --watch as a service) and `nftlb backend` all change the live table through sync()
// under the apply lock, and each records in the health state file what the table was built with (`live`, `loaded`).
// The operator's overrides have their own file, written only by `nftlb backend`. Under the lock, before it plans,
// a process calls refresh():
// - the overrides are read again when their file changed, so nothing plans without an override that was set;
// - when the state file changed since this process last read or wrote it, another process has loaded the table since:
//   its `live` and `loaded` records are taken (this process keeps its own check records and connection counts);
// - a `health --watch` writes its state file after it releases the lock, and marks the file pending from the load
//   until that write; a pending file is waited for (it is written within milliseconds), and one that stays pending
//   (a watch that died in between) is not trusted: the table is then reloaded in full.
// A race these cannot see (two writes within one stat) ends where every doubt ends: nft refuses an update that does
// not fit the table, or the guard chain is gone, and the table is reloaded in full.

/** How long a pending state file is waited for before it is taken as stale. */
const PENDING_WAIT_MS = 5000;
const PENDING_POLL_MS = 20;

/** What a changed override looks like to the process that picks it up. */
export interface OverrideChange {
  readonly key: string;
  readonly from: Override | null;
  readonly to: Override | null;
}

/** One process's view of the shared files of a table. */
export class SharedState {
  private stateStamp: string | null = null;
  private overridesStamp: string | null | undefined = undefined;
  /** The overrides file: next to the state file. */
  readonly overridesFile: string;

  constructor(
    readonly stateFile: string,
    readonly table: string,
    private readonly warn: (msg: string) => void,
    /** health --watch: an overrides file that cannot be read is reported and the overrides known so far (at first:
     *  those the live table holds) are kept, so a bad edit does not stop the checks; everyone else stops with the
     *  error. */
    private readonly keepOverridesOnError = false,
    /** How long a state file another process marked pending is waited for. */
    private readonly pendingWaitMs = PENDING_WAIT_MS,
  ) {
    this.overridesFile = overridesFile(dirname(stateFile), table);
  }

  /** Reads the state file (the stamp first: a write after it is seen by the next refresh). */
  async read(): Promise<HealthState> {
    this.stateStamp = await fileStamp(this.stateFile);
    return readHealthState(this.stateFile, this.table, this.warn);
  }

  /** Under the apply lock, for a process with no records of its own (nftlb backend): the state file once no other
   *  process has it pending, or with no live table known when it stays pending (the table is then reloaded in full). */
  async readSettled(): Promise<HealthState> {
    const stale = await this.waitForPending();
    const state = await this.read();
    return stale ? { ...state, live: null } : state;
  }

  /** After this process wrote the state file: remembers its version as its own. */
  async written(): Promise<void> {
    this.stateStamp = await fileStamp(this.stateFile);
  }

  /** True when the overrides file changed since this process last read it (health --watch looks every turn). */
  async overridesChanged(): Promise<boolean> {
    return (await fileStamp(this.overridesFile)) !== this.overridesStamp;
  }

  /** Under the apply lock: the state to plan with (see the top of this file). */
  async refresh(state: HealthState): Promise<HealthState> {
    let out = state;
    const stale = await this.waitForPending();
    const stamp = await fileStamp(this.stateFile);
    if (stamp !== this.stateStamp) {
      const disk = await readHealthState(this.stateFile, this.table, this.warn);
      this.stateStamp = stamp;
      out = { ...out, live: disk.live, loaded: disk.loaded };
    }
    if (stale) out = { ...out, live: null };
    const oStamp = await fileStamp(this.overridesFile);
    if (oStamp !== this.overridesStamp || out.overrides === undefined) {
      try {
        const o = overrideStates(await readOverrides(this.overridesFile, this.table));
        this.overridesStamp = oStamp;
        out = { ...out, overrides: o };
      } catch (e) {
        if (!this.keepOverridesOnError) throw e;
        // Known before: those read last, or (nothing read yet) those the live table was built with, so a bad file
        // never puts a drained backend back.
        this.warn(`${(e as Error).message}; keeping the overrides known before`);
        this.overridesStamp = oStamp;
        if (out.overrides === undefined) out = { ...out, overrides: { ...(out.loaded.overrides ?? {}) } };
      }
    }
    return out;
  }

  // Waits while another process's pending mark is on the state file; true when it stayed (the file is not trusted).
  private async waitForPending(): Promise<boolean> {
    const mark = pendingMark(this.stateFile);
    const mine = `${process.pid}\n`;
    const end = Date.now() + this.pendingWaitMs;
    for (;;) {
      const m = await readMark(mark);
      if (m === null || m === mine) return false;
      if (Date.now() >= end) {
        this.warn(
          `${this.stateFile} stayed marked pending (its writer died after a load?); reloading the table in full`,
        );
        return true;
      }
      await new Promise((r) => setTimeout(r, PENDING_POLL_MS));
    }
  }
}

// The overrides that differ between two records, for logs.
export function overrideDiff(
  before: Readonly<Record<string, Override>> | undefined,
  after: Readonly<Record<string, Override>> | undefined,
): OverrideChange[] {
  const out: OverrideChange[] = [];
  const b = before ?? {};
  const a = after ?? {};
  for (const k of Object.keys(a).sort()) if (b[k] !== a[k]) out.push({ key: k, from: b[k] ?? null, to: a[k]! });
  for (const k of Object.keys(b).sort()) if (!Object.hasOwn(a, k)) out.push({ key: k, from: b[k]!, to: null });
  return out;
}
