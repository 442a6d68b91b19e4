import type { Model } from '../model/types.js';
import { plan } from '../plan/plan.js';
import type { HealthRecord } from './machine.js';
import { spillTargets, watchConnections, type ConnectionWatch, type FullChange } from './connections.js';
import { fullRecord, probeTargets, type RoundDeps, type RoundReport } from './round.js';
import { SharedState, overrideDiff } from './shared-state.js';
import { pendingMark, writeHealthState, type HealthState } from './state-file.js';
import { sync, type SyncCache, type SyncOutcome } from './sync.js';
import { nftSession } from '../system/nft-session.js';
import { lockSession } from '../system/lock-session.js';
import { checkTargets, type CheckTarget } from './targets.js';

/** Controls of a running watch loop. */
export interface Watcher {
  /** Resolves when the loop has stopped (after stop(), with the state written). */
  readonly done: Promise<void>;
  /** Replaces the config from the next tick on (SIGHUP). */
  reload(model: Model): void;
  /** Stops after the current round (SIGTERM). */
  stop(): void;
}

/** Longest sleep between two looks at the schedule, so stop() and reload() act quickly. */
const MAX_SLEEP_MS = 250;

// `nftlb health --watch`: each backend is checked every `interval`; a round that changes membership updates the kernel
// at once (so a failure is acted on within interval x fall plus the probe time). report() gets every round that did
// something (a transition, or a reload of the table).
export function watch(
  deps: RoundDeps,
  first: Model,
  report: (r: RoundReport) => void,
  onError: (e: unknown) => void,
): Watcher {
  let model = first;
  let stopping = false;
  let stopped!: () => void;
  const stopRequested = new Promise<null>((resolve) => (stopped = () => resolve(null)));
  let reloaded = true;
  let forceSync = true;
  let wake: (() => void) | undefined;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  // One `nft -i` session for the incremental updates of the whole watch (src/system/nft-session.ts), and one holder of
  // the apply lock, which every sync takes as before (src/system/lock-session.ts): no nft and no flock process to
  // start per update.
  const session = nftSession(deps.host) ?? undefined;
  const lock = lockSession(deps.host);
  const loop = async (): Promise<void> => {
    // The loop owns the check records of its state and merges each round's into them in place: copying them would
    // cost more than the kernel update at 40,000 backends (docs/architecture.md).
    const owned = (s: HealthState): HealthState => ({ ...s, backends: { ...s.backends } });
    // The files shared with `nftlb backend` and other runs (shared-state.ts): every sync first takes, under the lock,
    // the overrides and what another process loaded since; the state file is marked pending from a load to its write.
    let shared = new SharedState(deps.stateFile, model.table, deps.warn, true);
    let state: HealthState = owned(await shared.read());
    const syncDeps = (): RoundDeps => ({
      ...deps,
      refresh: (s) => shared.refresh(s),
      pendingMark: pendingMark(deps.stateFile),
      ...(session === undefined ? {} : { session }),
      lock,
    });
    let targets: CheckTarget[] = [];
    let due = new Map<string, number>();
    // The plan the live table holds, so a round that changes a few services plans only those (sync() checks that it
    // is still for this model and state), and the backends with a transition since the last sync: the only ones whose
    // verdicts can differ from the loaded ones.
    let cache: SyncCache | undefined;
    const pending = new Set<string>();
    // limit-overflow spill: conntrack events keep the connection counts; each flip is queued here for the next sync.
    let conns: ConnectionWatch | undefined;
    const flips: FullChange[] = [];
    const follow = async (p: ReturnType<typeof plan>): Promise<void> => {
      await conns?.stop();
      conns = undefined;
      const spill = spillTargets(model, p);
      if (spill.size > 0) {
        conns = await watchConnections(
          deps.host,
          spill,
          Object.keys(state.full ?? {}),
          (changes) => {
            flips.push(...changes);
            wake?.();
          },
          onError,
        );
      }
      flips.length = 0;
      state = { ...state, full: fullRecord(conns?.counts.fullKeys() ?? []) };
    };
    while (!stopping) {
      if (reloaded) {
        reloaded = false;
        const p = plan(model);
        targets = checkTargets(model, p);
        // Everything is checked right away after a (re)load; then each on its own interval.
        due = new Map(targets.map((t) => [t.key, 0]));
        if (state.table !== model.table) {
          shared = new SharedState(deps.stateFile, model.table, deps.warn, true);
          state = owned(await shared.read());
        }
        try {
          await follow(p);
        } catch (e) {
          onError(e);
        }
      }
      const now = Date.now();
      const ready = targets.filter((t) => (due.get(t.key) ?? 0) <= now);
      try {
        // An override set or removed by `nftlb backend` (which has changed the table already): taken at the next sync.
        if (await shared.overridesChanged()) forceSync = true;
        let transitions: RoundReport['transitions'] = [];
        if (ready.length > 0) {
          for (const t of ready) due.set(t.key, now + t.check.interval);
          // A stop does not wait for the checks in flight (an exec check may run for its whole timeout, longer than a
          // service manager waits), nor takes their verdicts: the state stays as the last full round left it.
          const probing = probeTargets(deps, state, ready);
          probing.catch(() => undefined);
          const probed = await Promise.race([probing, stopRequested]);
          if (probed === null) break;
          // recordResults keeps only the probed keys; merge them into the others.
          const backends = Object.assign(state.backends as Record<string, HealthRecord>, probed.state.backends);
          state = { ...probed.state, backends };
          transitions = probed.transitions;
          for (const x of transitions) pending.add(x.key);
        }
        const spill = flips.splice(0);
        if (spill.length > 0) {
          const full = { ...(state.full ?? {}) } as Record<string, true>;
          for (const c of spill) {
            if (c.full) full[c.key] = true;
            else delete full[c.key];
            pending.add(c.key);
          }
          state = { ...state, full };
        }
        let synced = false;
        let after: { before: unknown; out: SyncOutcome } | undefined;
        if (transitions.length > 0 || spill.length > 0 || forceSync) {
          // A failed sync keeps forceSync (and the pending keys): the next turn of the loop tries again.
          forceSync = true;
          const known = state.overrides;
          const before = await deps.records?.before(model).catch(() => undefined);
          const out = await sync(syncDeps(), model, state, cache, pending);
          after = { before, out };
          state = out.state;
          cache = out.cache;
          pending.clear();
          forceSync = false;
          synced = true;
          // Overrides known before (none at the first sync, which takes those of the file as they are).
          const overrides = known === undefined ? [] : overrideDiff(known, state.overrides);
          report({ checked: ready.length, transitions, spill, overrides, sync: out });
        }
        if (ready.length > 0 || spill.length > 0 || synced) {
          await writeHealthState(deps.stateFile, state);
          await shared.written();
        }
        // Once the state file describes the table the sync left (see RecordKeeper).
        if (after !== undefined) await deps.records?.after(model, after.before, after.out).catch(() => undefined);
      } catch (e) {
        onError(e);
      }
      if (flips.length > 0) continue;
      // A loop, not Math.min(...): a spread of 200,000 arguments overflows the stack.
      let nextDue = Date.now() + MAX_SLEEP_MS;
      for (const t of targets) nextDue = Math.min(nextDue, due.get(t.key) ?? Infinity);
      await sleep(Math.max(5, Math.min(MAX_SLEEP_MS, nextDue - Date.now())));
    }
    await conns?.stop().catch(onError);
    await session?.close().catch(onError);
    await lock.close().catch(onError);
    await writeHealthState(deps.stateFile, state).catch(onError);
    await shared.written().catch(onError);
  };
  const done = loop();
  return {
    done,
    reload(m) {
      model = m;
      reloaded = true;
      forceSync = true;
      wake?.();
    },
    stop() {
      stopping = true;
      stopped();
      wake?.();
    },
  };
}
