import { join } from 'node:path';
import { writeFileAtomic } from '../system/atomic-write.js';
import { isGuardChain } from '../nft/names.js';
import { readStateFile } from '../system/files.js';
import type { HealthOverlay, Lookup } from '../plan/plan.js';
import type { Override } from '../plan/types.js';
import { removeMark } from '../system/marks.js';
import type { HealthRecord } from './machine.js';

/** The state file format. Version 1 recorded the live table by its kernel handle; its `live` is dropped when read.
 *  Versions 1 and 2 called `loaded` `applied` (the word `nftlb apply` uses for its own record); both are read. */
export const STATE_VERSION = 3;

/** What the live table holds, as far as nftlb health knows: the guard chain of its last full load and the config. */
export interface LiveRecord {
  /** Name of the empty chain (`health_<8 hex>`) the last full load by nftlb health added to the table. Any other load
   *  of the table (nftlb apply, `nftlb render | nft -f -`, a hand edit) drops it, and an incremental script starts by
   *  flushing it, so such a script is refused as a whole by a table that is not the one recorded here. */
  readonly token: string;
  /** modelHash() of the config the live table was built from. */
  readonly modelHash: string;
}

/** What `nftlb health` keeps between runs, per table: each backend's checks, and what the live table was built from. */
export interface HealthState {
  readonly version: typeof STATE_VERSION;
  readonly table: string;
  /** The live table nftlb health last loaded in full; null: none known (the next sync loads the whole table).
   *  Incremental updates are sent only while the config is the recorded one, and refused by nft unless the table is. */
  readonly live: LiveRecord | null;
  /** Health verdicts and on-empty keep sets the live table was built with. */
  readonly loaded: {
    readonly health: Readonly<Record<string, 'up' | 'down'>>;
    readonly lastKnown: Readonly<Record<string, readonly string[]>>;
    /** limit-overflow spill: the backends the live table leaves out because they were full. */
    readonly full?: Readonly<Record<string, true>>;
    /** The operator's overrides (`nftlb backend drain|down`) the live table was built with. */
    readonly overrides?: Readonly<Record<string, Override>>;
  };
  /** The operator's overrides now, by backend key: read from their own file (overrides.ts) by whoever syncs, never
   *  written to this one. */
  readonly overrides?: Readonly<Record<string, Override>>;
  /** limit-overflow spill: the backends at their max-connections now (by key), from the last connection count. */
  readonly full?: Readonly<Record<string, true>>;
  /** Check records by backend key (service/endpoint). */
  readonly backends: Readonly<Record<string, HealthRecord>>;
}

// The health state file of a table.
export function healthStateFile(dir: string, table: string): string {
  return join(dir, `health-${table}.json`);
}

// A state with nothing known: every checked backend starts unknown (taken as healthy) and the table is reloaded.
export function emptyState(table: string): HealthState {
  return { version: STATE_VERSION, table, live: null, loaded: { health: {}, lastKnown: {} }, backends: {} };
}

// Reads the state file; a missing file is an empty state. A file that cannot be parsed is also treated as empty (the
// next run reloads the table and rebuilds it) and reported through `warn`, so a cron job never wedges on it.
export async function readHealthState(
  file: string,
  table: string,
  warn: (msg: string) => void = () => undefined,
): Promise<HealthState> {
  const text = await readStateFile(file, 'the health state');
  if (text === null) return emptyState(table);
  try {
    const v = JSON.parse(text) as Record<string, unknown> | null;
    if (isRecord(v) && (v['version'] === 1 || v['version'] === 2) && v['loaded'] === undefined) {
      v['loaded'] = v['applied'];
      delete v['applied'];
    }
    if (
      typeof v !== 'object' ||
      v === null ||
      (v['version'] !== 1 && v['version'] !== 2 && v['version'] !== STATE_VERSION) ||
      v['table'] !== table ||
      !isRecord(v['backends']) ||
      !isRecord(v['loaded']) ||
      !isRecord(v['loaded']['health']) ||
      !isRecord(v['loaded']['lastKnown'])
    )
      throw new Error('unexpected shape');
    // A live record of another shape (version 1 kept a kernel handle) means no known live table: the next sync
    // reloads the table in full. The check records and loaded verdicts stay valid.
    const live = isLiveRecord(v['live']) ? v['live'] : null;
    if (
      (v['full'] !== undefined && !isRecord(v['full'])) ||
      (v['loaded']['full'] !== undefined && !isRecord(v['loaded']['full'])) ||
      (v['loaded']['overrides'] !== undefined && !isOverrides(v['loaded']['overrides']))
    )
      throw new Error('unexpected shape');
    return { ...withoutOverrides(v as unknown as HealthState), version: STATE_VERSION, live };
  } catch (e) {
    warn(`health state ${file} is unreadable (${(e as Error).message}); starting from scratch`);
    return emptyState(table);
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isLiveRecord(x: unknown): x is LiveRecord {
  return (
    isRecord(x) && typeof x['token'] === 'string' && isGuardChain(x['token']) && typeof x['modelHash'] === 'string'
  );
}

// A state without its current overrides (their own file is their record).
function withoutOverrides(s: HealthState): HealthState {
  if (s.overrides === undefined) return s;
  const { overrides, ...rest } = s;
  void overrides;
  return rest;
}

function isOverrides(x: unknown): x is Record<string, Override> {
  return isRecord(x) && Object.values(x).every((o) => o === 'drain' || o === 'down');
}

// Writes the state file atomically (temporary file + rename), so a reader or a crash sees the old or the new state.
// The current overrides are left out: their own file is the only record of them. Once written, the file is no longer
// behind the kernel: a pending mark (sync.ts) is removed.
export async function writeHealthState(file: string, s: HealthState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(withoutOverrides(s), null, 1)}\n`);
  await removeMark(pendingMark(file));
}

// The mark next to a state file that says the records in it are behind the live table (sync.ts).
export function pendingMark(file: string): string {
  return `${file}.pending`;
}

// The overlay the live table was built with (for `nftlb apply` too: plan(model, loadedOverlay(state)) keeps dead
// backends out of a full reload).
export function loadedOverlay(s: HealthState): HealthOverlay {
  return {
    health: new Map(Object.entries(s.loaded.health)),
    lastKnown: new Map(Object.entries(s.loaded.lastKnown)),
    full: new Map(Object.entries(s.loaded.full ?? {})),
    override: overrideLookup(s.loaded.overrides),
  };
}

// The overlay of the current check records and overrides.
export function currentOverlay(s: HealthState): HealthOverlay {
  const health = new Map<string, 'up' | 'down'>();
  for (const [key, r] of Object.entries(s.backends)) if (r.state !== 'unknown') health.set(key, r.state);
  return {
    health,
    lastKnown: new Map(Object.entries(s.loaded.lastKnown)),
    full: new Map(Object.entries(s.full ?? {})),
    override: overrideLookup(s.overrides),
  };
}

// Overrides as an overlay lookup; undefined when there are none (the planner then builds no key for them).
export function overrideLookup(r: Readonly<Record<string, Override>> | undefined): Lookup<Override> | undefined {
  if (r === undefined) return undefined;
  for (const _ in r) return { get: (k) => (Object.hasOwn(r, k) ? r[k] : undefined) };
  return undefined;
}
