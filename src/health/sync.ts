import { createHash } from 'node:crypto';
import type { Executor } from '../apply/executor.js';
import { acquireLock } from '../apply/lock.js';
import { checkAndLoad } from '../apply/nft.js';
import type { Model } from '../model/types.js';
import { renderNftScript } from '../nft/script.js';
import { backendKey, plan, poolKey } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { incrementalUpdate } from './incremental.js';
import { tableHandle } from './live-table.js';
import { appliedOverlay, currentOverlay, type HealthState } from './state-file.js';

/** How sync() talks to the system. */
export interface SyncDeps {
  readonly exec: Executor;
  readonly nft: string;
  /** The conntrack program (on-down reset). */
  readonly conntrack: string;
  readonly lockFile: string;
  readonly lockWaitSeconds: number;
}

/** What sync() did to the kernel. */
export interface SyncOutcome {
  readonly action: 'none' | 'incremental' | 'full';
  /** Why a full reload was needed, or which services the incremental update touched. */
  readonly why: string;
  readonly services: readonly string[];
  /** Backend ids whose conntrack entries were deleted (on-down reset). */
  readonly reset: readonly number[];
  readonly state: HealthState;
  readonly plan: Plan;
}

// A digest of a plan: equal digests mean equal tables.
export function planHash(p: Plan): string {
  return createHash('sha256')
    .update(JSON.stringify(p, (k, v: unknown) => (k === 'health' ? undefined : v)))
    .digest('hex');
}

// Brings the live table in line with the state's check records. While the live table is the one this state describes
// (same kernel handle, same plan), only the changed pools are rewritten, in one nft transaction; otherwise (first run,
// config changed, someone else reloaded the table, or the incremental script is refused) the whole table is replaced.
export async function sync(deps: SyncDeps, model: Model, state: HealthState): Promise<SyncOutcome> {
  const overlay = currentOverlay(state);
  const next = plan(model, overlay);
  const lastKnown: Record<string, readonly string[]> = { ...state.applied.lastKnown };
  for (const s of next.services) {
    for (const pool of s.pools) {
      if (pool.selector === null || pool.kept) continue;
      const ids = new Set(pool.slots);
      lastKnown[poolKey(s.name, pool.family)] = s.backends
        .filter((b) => ids.has(b.id))
        .map((b) => backendKey(s.name, b.endpoint));
    }
  }
  const before = plan(model, appliedOverlay(state));
  const release = await acquireLock(deps.exec, deps.lockFile, deps.lockWaitSeconds);
  try {
    const handle = await tableHandle(deps.exec, deps.nft, next.table);
    const live = state.live;
    let outcome: { action: SyncOutcome['action']; why: string; services: readonly string[]; handle: number | null };
    const stale =
      live === null
        ? 'no table loaded by nftlb health yet'
        : handle !== live.handle
          ? 'the table was replaced since the last health run'
          : live.planHash !== planHash(before)
            ? 'the config changed'
            : null;
    if (stale === null) {
      const u = incrementalUpdate(before, next);
      if (u.script === null) outcome = { action: 'none', why: 'no membership change', services: [], handle };
      else {
        const r = await deps.exec.run(deps.nft, ['-f', '-'], u.script);
        outcome =
          r.exitCode === 0
            ? { action: 'incremental', why: `updated ${u.services.join(', ')}`, services: u.services, handle }
            : await full(deps, next, `incremental update refused (${r.stderr.trim().split('\n')[0] ?? ''})`);
      }
    } else {
      outcome = await full(deps, next, stale);
    }
    const reset = await resetConnections(deps, before, next);
    const health: Record<string, 'up' | 'down'> = Object.fromEntries(overlay.health);
    const newState: HealthState = {
      ...state,
      live: outcome.handle === null ? null : { handle: outcome.handle, planHash: planHash(next) },
      applied: { health, lastKnown },
    };
    return { action: outcome.action, why: outcome.why, services: outcome.services, reset, state: newState, plan: next };
  } finally {
    await release();
  }
}

async function full(
  deps: SyncDeps,
  p: Plan,
  why: string,
): Promise<{ action: 'full'; why: string; services: readonly string[]; handle: number | null }> {
  await checkAndLoad(deps.exec, deps.nft, renderNftScript(p).text);
  return {
    action: 'full',
    why,
    services: p.services.map((s) => s.name),
    handle: await tableHandle(deps.exec, deps.nft, p.table),
  };
}

// on-down reset: deletes the conntrack entries of backends that left their pool because a check took them down.
// Their ct mark is their id (design.md), so `conntrack -D --mark <id>` finds exactly their connections.
async function resetConnections(deps: SyncDeps, before: Plan, after: Plan): Promise<number[]> {
  const out: number[] = [];
  after.services.forEach((s, i) => {
    if (s.onDown !== 'reset') return;
    const was = new Set(before.services[i]!.pools.flatMap((p) => p.slots));
    const now = new Set(s.pools.flatMap((p) => p.slots));
    for (const b of s.backends) if (b.health === 'down' && was.has(b.id) && !now.has(b.id)) out.push(b.id);
  });
  for (const id of out) {
    // Exit status 1 with "0 flow entries have been deleted" only means there was nothing to delete.
    await deps.exec.run(deps.conntrack, ['-D', '--mark', String(id)]);
  }
  return out;
}
