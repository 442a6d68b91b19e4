import { createHash, randomBytes } from 'node:crypto';
import type { Host } from '../system/host.js';
import type { NftSession } from '../system/nft-session.js';
import { acquireLock } from '../system/lock.js';
import type { LockSession } from '../system/lock-session.js';
import { commitScript, foreignTable, loadScript } from '../system/nft.js';
import { deleteTablesScript, foreignTables, readOwnedTables, staleTables } from '../system/owned-tables.js';
import { deleteConntrackFlows } from '../system/conntrack.js';
import { flowFilters, serviceFlows, type FlowFilter } from '../plan/flows.js';
import { writeMark } from '../system/marks.js';
import type { Model } from '../model/types.js';
import type { TableRef } from '../nft/ast.js';
import { renderCommands } from '../nft/commands.js';
import { guardChain, ident } from '../nft/names.js';
import { reloadInPlace } from '../nft/in-place.js';
import { renderNftScript } from '../nft/script.js';
import { scriptTableRefs } from '../nft/tables.js';
import { backendKey, effectiveState, plan, poolKey, replan, type HealthOverlay, type Lookup } from '../plan/plan.js';
import type { Override, Plan, PlannedService } from '../plan/types.js';
import { VERSION } from '../common/version.js';
import { incrementalUpdate } from '../nft/delta.js';
import { overrideLookup, STATE_VERSION, type HealthState } from './state-file.js';

/** How sync() talks to the system. */
export interface SyncDeps {
  /** nft, conntrack (on-down reset) and the apply lock. */
  readonly host: Host;
  readonly lockWaitSeconds: number;
  /** Replace a table of nftlb's name that nftlb did not make (otherwise a full load refuses it: foreign-table). */
  readonly force?: boolean;
  /** The caller holds the apply lock already (it reads and writes its records under it): sync() takes none. */
  readonly lockHeld?: boolean;
  /** Called once the apply lock is held, before anything is compared or planned: the state to sync, with what other
   *  nftlb processes changed since the caller read its own (the operator's overrides; the live table's records after
   *  an `nftlb backend`). See shared-state.ts. */
  readonly refresh?: (state: HealthState) => Promise<HealthState>;
  /** For a caller that writes its state file after the lock is released (health --watch): the mark that says, from
   *  the kernel update until that write, that the file is behind the live table (pendingMark()). */
  readonly pendingMark?: string;
  /** A persistent `nft -i` session for the incremental updates (health --watch); without it each is an `nft -f`. */
  readonly session?: NftSession;
  /** A persistent holder of the apply lock (health --watch: no flock process per sync); without it, acquireLock. */
  readonly lock?: LockSession;
}

/** What sync() keeps in memory between two calls (`health --watch`): the plan the live table holds. Valid only for the
 *  same Model object and the very `loaded` object of the state sync() returned with it (or a state derived from that
 *  one that keeps its `loaded` object); sync() checks both and ignores the cache otherwise. That `loaded` object
 *  belongs to the cache: the next sync() with the cache updates its records in place once the kernel took the change
 *  (copying 40,000 verdicts would cost more than the nft transaction at 10k services), so a caller keeps no older state
 *  that it still needs unchanged. */
export interface SyncCache {
  readonly model: Model;
  /** The plan loaded in the live table: plan(model, the verdicts and keep sets of `loaded`). */
  readonly plan: Plan;
  readonly loaded: HealthState['loaded'];
}

/** What sync() did to the kernel. */
export interface SyncOutcome {
  readonly action: 'none' | 'incremental' | 'full';
  /** Why a full reload was needed, or which services the incremental update touched. */
  readonly why: string;
  /** The fingerprint of the table a full reload loaded (the one `nftlb render` prints for the same plan); absent
   *  otherwise (an update leaves the table's fingerprint chain as it was). */
  readonly fingerprint?: string;
  readonly services: readonly string[];
  /** Backend ids whose conntrack entries were deleted (on-down reset). */
  readonly reset: readonly number[];
  readonly state: HealthState;
  /** The plan now live. */
  readonly plan: Plan;
  /** Pass to the next sync() with `state` (or a state derived from it that keeps its `loaded` object). */
  readonly cache: SyncCache;
}

const modelHashes = new WeakMap<Model, string>();
const serviceIndexes = new WeakMap<Model, ReadonlyMap<string, number>>();

// A digest of everything in a config that shapes the table (and the nftlb version that renders it): equal digests mean
// that equal health verdicts give equal tables. Health check parameters count only as "checked or not", so tuning an
// interval does not reload the table. Computed once per Model object.
export function modelHash(model: Model): string {
  let h = modelHashes.get(model);
  if (h === undefined) {
    const json = JSON.stringify(model, (k, v: unknown) => (k === 'health' ? v !== undefined : v));
    h = createHash('sha256').update(`nftlb ${VERSION}\n`).update(json).digest('hex');
    modelHashes.set(model, h);
  }
  return h;
}

// Index of each service (by name) in model.services. Computed once per Model object.
function serviceIndex(model: Model): ReadonlyMap<string, number> {
  let m = serviceIndexes.get(model);
  if (m === undefined) {
    m = new Map(model.services.map((s, i) => [s.name, i]));
    serviceIndexes.set(model, m);
  }
  return m;
}

// An own property of a record (never one of Object.prototype).
const own = <V>(r: Readonly<Record<string, V>>, k: string): V | undefined => (Object.hasOwn(r, k) ? r[k] : undefined);

// A Lookup over a plain record, so a state's records serve as an overlay without copying them.
const lookup = <V>(r: Readonly<Record<string, V>>): Lookup<V> => ({ get: (k) => own(r, k) });

// The overlay of loaded verdicts and keep sets, without copying them.
const overlayOf = (a: HealthState['loaded']): HealthOverlay => ({
  health: lookup(a.health),
  lastKnown: lookup(a.lastKnown),
  full: lookup(a.full ?? {}),
  override: overrideLookup(a.overrides),
});

const NONE: Readonly<Record<string, true>> = Object.freeze({});

// limit-overflow spill: the backend keys whose full flag differs between the state (now) and the live table, and the
// indexes of their services. `touched` as for verdictChanges; the records are small (only full backends), so without
// it both are compared whole.
export function fullChanges(
  model: Model,
  state: HealthState,
  touched?: Iterable<string>,
): { keys: string[]; changed: number[] } {
  const now = state.full ?? NONE;
  const was = state.loaded.full ?? NONE;
  const differs = (k: string): boolean => Object.hasOwn(now, k) !== Object.hasOwn(was, k);
  const keys = new Set<string>();
  if (touched !== undefined) {
    for (const k of touched) if (differs(k)) keys.add(k);
  } else {
    for (const k in now) if (differs(k)) keys.add(k);
    for (const k in was) if (differs(k)) keys.add(k);
  }
  return { keys: [...keys], changed: servicesOf(model, keys) };
}

// The backend keys whose override (`nftlb backend`) differs between the state (now) and the live table, and the indexes
// of their services. Overrides are few: both records are compared whole.
export function overrideChanges(model: Model, state: HealthState): { keys: string[]; changed: number[] } {
  const now = state.overrides ?? NO_OVERRIDES;
  const was = state.loaded.overrides ?? NO_OVERRIDES;
  const keys = new Set<string>();
  for (const k in now) if (own(was, k) !== now[k]) keys.add(k);
  for (const k in was) if (own(now, k) !== was[k]) keys.add(k);
  return { keys: [...keys], changed: servicesOf(model, keys) };
}

const NO_OVERRIDES: Readonly<Record<string, Override>> = Object.freeze({});

/** Verdicts that differ from the loaded ones: backend key -> the current verdict (undefined: none, i.e. unknown). */
export interface VerdictChanges {
  readonly diff: ReadonlyMap<string, 'up' | 'down' | undefined>;
  /** Indexes (ascending) of the services of the model with a key in `diff`: only these can plan differently. */
  readonly changed: readonly number[];
}

// Compares the verdicts of the check records (unknown ones count as none) with the loaded ones. `touched`: the only
// backend keys whose records can differ from the loaded verdicts (health --watch knows them: the keys with a transition
// since its last sync); without it every record is compared. Backend keys are service/endpoint; names have no '/'.
export function verdictChanges(model: Model, state: HealthState, touched?: Iterable<string>): VerdictChanges {
  const loaded = state.loaded.health;
  const diff = new Map<string, 'up' | 'down' | undefined>();
  const verdict = (key: string): 'up' | 'down' | undefined => {
    const r = own(state.backends, key);
    return r === undefined || r.state === 'unknown' ? undefined : r.state;
  };
  if (touched !== undefined) {
    for (const key of touched) if (verdict(key) !== own(loaded, key)) diff.set(key, verdict(key));
  } else {
    let count = 0;
    for (const key in state.backends) {
      const v = state.backends[key]!.state;
      if (v === 'unknown') continue;
      count++;
      if (own(loaded, key) !== v) diff.set(key, v);
    }
    // Every other current verdict is loaded as is: the key sets are equal unless loaded has more keys.
    if (count - diff.size !== Object.keys(loaded).length)
      for (const key in loaded) if (verdict(key) === undefined) diff.set(key, undefined);
  }
  return { diff, changed: servicesOf(model, diff.keys()) };
}

// Indexes (ascending) of the services of the model that the backend keys (service/endpoint) belong to; keys of services
// the model does not have are left out.
function servicesOf(model: Model, keys: Iterable<string>): number[] {
  const index = serviceIndex(model);
  const changed = new Set<number>();
  for (const key of keys) {
    const i = index.get(key.slice(0, key.indexOf('/')));
    if (i !== undefined) changed.add(i);
  }
  return [...changed].sort((x, y) => x - y);
}

// Brings the live table in line with the state's check records. Only the services whose verdicts changed are planned
// again. While the live table is the one this state describes (same config, and the guard chain of nftlb health's last
// full load still in it), only the changed pools are rewritten, in one nft transaction that starts by flushing the guard
// chain, so nft refuses it whole when anyone else replaced the table; then, as on the first run, after a config change
// or when nft refuses the incremental script, the whole table is replaced. With `cache` (the previous outcome's, for
// the same model) and `touched` (see verdictChanges) a change to a few services costs O(those services) in JavaScript;
// with the cache alone, one pass over the check records.
// The operator's overrides (`nftlb backend`) take part like verdicts: a changed one replans its service. The apply lock
// is held for the whole of it (from before `deps.refresh` reads what other processes changed, to after the load).
export async function sync(
  deps: SyncDeps,
  model: Model,
  given: HealthState,
  cache?: SyncCache,
  touched?: Iterable<string>,
): Promise<SyncOutcome> {
  const release =
    deps.lockHeld === true
      ? undefined
      : await (deps.lock?.acquire(deps.lockWaitSeconds) ?? acquireLock(deps.host, deps.lockWaitSeconds));
  try {
    const state = deps.refresh === undefined ? given : await deps.refresh(given);
    return await syncLocked(deps, model, state, cache, touched);
  } finally {
    await release?.();
  }
}

async function syncLocked(
  deps: SyncDeps,
  model: Model,
  state: HealthState,
  cache: SyncCache | undefined,
  touched: Iterable<string> | undefined,
): Promise<SyncOutcome> {
  const valid = cache !== undefined && cache.model === model && cache.loaded === state.loaded;
  const verdicts = verdictChanges(model, state, valid ? touched : undefined);
  const diff = verdicts.diff;
  const spill = fullChanges(model, state, valid ? touched : undefined);
  const overridden = overrideChanges(model, state);
  const changed =
    spill.changed.length === 0 && overridden.changed.length === 0
      ? verdicts.changed
      : servicesOf(model, [...diff.keys(), ...spill.keys, ...overridden.keys]);
  const loaded = state.loaded;
  const current: HealthOverlay = {
    health: { get: (k) => (diff.has(k) ? diff.get(k) : own(loaded.health, k)) },
    lastKnown: lookup(loaded.lastKnown),
    full: lookup(state.full ?? NONE),
    override: overrideLookup(state.overrides),
  };
  // on-empty keep sets of the pools that balance over healthy backends, to record once the kernel took the change.
  const kept: Record<string, readonly string[]> = {};
  let before: Plan;
  let next: Plan;
  if (valid) {
    before = cache.plan;
    next = replan(before, model, current, changed);
    for (const i of changed) recordKept(kept, next.services[i]!);
  } else {
    next = plan(model, current);
    before = replan(next, model, overlayOf(loaded), changed);
    for (const s of next.services) recordKept(kept, s);
  }
  const hash = modelHash(model);
  let outcome: {
    action: SyncOutcome['action'];
    why: string;
    services: readonly string[];
    token: string;
    fingerprint?: string;
  };
  {
    const live = state.live;
    const stale =
      live === null ? 'no table loaded by nftlb health yet' : live.modelHash !== hash ? 'the config changed' : null;
    if (stale === null && live !== null) {
      const u = incrementalUpdate(before, next, changed);
      // The guard first: when the table is not the one nftlb health loaded, nft refuses the whole transaction.
      const guard = { name: ident(live.token) };
      const script = renderCommands([
        { kind: 'chain', verb: 'flush', table: tableOf(next), chain: guard },
        ...u.commands,
      ]);
      // Through health --watch's `nft -i` session when it has one and the script fits a line; else `nft -f`.
      const r = (await deps.session?.run(script)) ?? (await loadScript(deps.host, script));
      if (r.exitCode === 0)
        outcome =
          u.script === null
            ? { action: 'none', why: 'no membership change', services: [], token: live.token }
            : {
                action: 'incremental',
                why: `updated ${u.services.join(', ')}`,
                services: u.services,
                token: live.token,
              };
      // nft echoes the failing line: the guard's when the table is not the one recorded (or absent).
      else if (r.stderr.includes(live.token))
        outcome = await full(deps, next, 'the table was replaced since the last health run');
      else outcome = await full(deps, next, `incremental update refused (${r.stderr.trim().split('\n')[0] ?? ''})`);
    } else {
      outcome = await full(deps, next, stale ?? 'no table loaded by nftlb health yet');
    }
  }
  // Until the caller writes its state file, the file is behind the table; best effort: without the mark another
  // process may plan from the old records, and the guard or a refused update then ends in a full reload.
  if (deps.pendingMark !== undefined && outcome.action !== 'none')
    await writeMark(deps.pendingMark, `${process.pid}\n`).catch(() => undefined);
  const reset = await resetConnections(deps, before, next, changed);
  // The kernel has the change: record what it was built with. The records of a valid cache are its own and updated in
  // place; a state from elsewhere (the file, a caller) is copied. A new `loaded` object either way, so a cache from
  // before this call no longer matches.
  const records = valid ? loaded : { health: { ...loaded.health }, lastKnown: { ...loaded.lastKnown } };
  const health = records.health as Record<string, 'up' | 'down'>;
  for (const [k, v] of diff) {
    if (v === undefined) delete health[k];
    else health[k] = v;
  }
  Object.assign(records.lastKnown, kept);
  const fullNow = state.full ?? NONE;
  const overridesNow = state.overrides ?? NO_OVERRIDES;
  const newLoaded: HealthState['loaded'] = {
    health: records.health,
    lastKnown: records.lastKnown,
    ...(Object.keys(fullNow).length > 0 ? { full: { ...fullNow } } : {}),
    ...(Object.keys(overridesNow).length > 0 ? { overrides: { ...overridesNow } } : {}),
  };
  return {
    action: outcome.action,
    why: outcome.why,
    ...(outcome.fingerprint === undefined ? {} : { fingerprint: outcome.fingerprint }),
    services: outcome.services,
    reset,
    state: { ...state, version: STATE_VERSION, live: { token: outcome.token, modelHash: hash }, loaded: newLoaded },
    plan: next,
    cache: { model, plan: next, loaded: newLoaded },
  };
}

// on-empty keep: records the backends a pool balances over while it has healthy ones (not when they are a kept set).
function recordKept(lastKnown: Record<string, readonly string[]>, s: PlannedService): void {
  for (const pool of s.pools) {
    if (pool.selector === null || pool.kept) continue;
    const ids = new Set(pool.slots);
    lastKnown[poolKey(s.name, pool.family)] = s.backends
      .filter((b) => ids.has(b.id))
      .map((b) => backendKey(s.name, b.endpoint));
  }
}

// A new guard chain name (random, so each full load by health has its own).
export function newToken(): string {
  return guardChain(randomBytes(4).readUInt32BE(0));
}

// nftlb's table of a plan.
const tableOf = (p: Plan): TableRef => ({ family: 'inet', name: ident(p.table) });

// Replaces the whole table and adds a new (empty, unreferenced) guard chain in the same transaction. The guard is
// appended after the rendered script, so the table body and its fingerprint are exactly what `nftlb render` prints.
async function full(
  deps: SyncDeps,
  p: Plan,
  why: string,
): Promise<{ action: 'full'; why: string; services: readonly string[]; token: string; fingerprint: string }> {
  // Every table of nftlb's under this name: a foreign one the script replaces is refused, a netdev table the config
  // no longer needs goes in the same transaction (as with apply).
  const tables = scriptTableRefs(p);
  const owned = await readOwnedTables(deps.host, p.table);
  const foreign = foreignTables(owned, tables);
  if (foreign.length > 0 && deps.force !== true) throw foreignTable(foreign[0]!);
  const token = newToken();
  const guard = renderCommands([{ kind: 'chain', verb: 'add', table: tableOf(p), chain: { name: ident(token) } }]);
  const tail = `${guard}${deleteTablesScript(staleTables(owned, tables))}`;
  // nftlb's live table is reloaded in place (src/nft/in-place.ts: nothing the packet path uses is deleted, persistence
  // entries stay), else replaced whole: the script is rendered for the one that is sent (the whole table is rendered
  // again only when nft refuses the reload in place). The body, and so the fingerprint, is the same either way.
  const inet = owned[0]?.live;
  const inPlace = inet?.kind === 'present' && inet.fingerprint !== null ? reloadInPlace(p, inet.listing) : undefined;
  if (inPlace !== undefined) {
    const script = renderNftScript(p, inPlace);
    const r = await loadScript(deps.host, `${script.text}${tail}`);
    if (r.exitCode === 0)
      return { action: 'full', why, services: serviceNames(p), token, fingerprint: script.fingerprint };
  }
  const script = renderNftScript(p);
  await commitScript(deps.host, `${script.text}${tail}`);
  return { action: 'full', why, services: serviceNames(p), token, fingerprint: script.fingerprint };
}

const serviceNames = (p: Plan): string[] => p.services.map((s) => s.name);

// on-down reset: deletes the conntrack entries of backends that left their pool because a check took them down, and of
// backends the operator set down (`nftlb backend down`), wherever they were. The entries are found by what conntrack
// records of each connection (the service's VIP, protocol and port it was addressed to, and the backend's address and
// port it is answered from: src/plan/flows.ts), not by the ct mark: a connection keeps the id its backend had when it
// opened, which after a reload that moved ids names another backend. Only services whose verdicts or overrides
// changed can have such backends. drain never resets.
async function resetConnections(
  deps: SyncDeps,
  before: Plan,
  after: Plan,
  changed: readonly number[],
): Promise<number[]> {
  const out: number[] = [];
  const filters: FlowFilter[] = [];
  for (const i of changed) {
    const s = after.services[i]!;
    if (s.onDown !== 'reset') continue;
    const was = new Set(before.services[i]!.pools.flatMap((p) => p.slots));
    const now = new Set(s.pools.flatMap((p) => p.slots));
    const prev = before.services[i]!.backends;
    const flows = serviceFlows(s);
    s.backends.forEach((b, j) => {
      const setDown = b.override === 'down' && effectiveState(b) === 'down' && effectiveState(prev[j]!) !== 'down';
      if (setDown || (b.health === 'down' && was.has(b.id) && !now.has(b.id))) {
        out.push(b.id);
        filters.push(...flowFilters(flows[j]!));
      }
    });
  }
  for (const f of filters) await deleteConntrackFlows(deps.host, f);
  return out;
}
