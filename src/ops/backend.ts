import type { Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { overridesFile, readOverrides, writeOverrides, type OverrideRecord } from '../health/overrides.js';
import { SharedState } from '../health/shared-state.js';
import { healthStateFile, writeHealthState } from '../health/state-file.js';
import { sync, type SyncOutcome } from '../health/sync.js';
import { endpointText } from '../model/address.js';
import type { Address, BackendState, Model } from '../model/types.js';
import { backendKey, effectiveState, plan } from '../plan/plan.js';
import type { Override, Plan, PlannedBackend } from '../plan/types.js';
import { loadModelAndDigest } from '../system/config-file.js';
import { requireConntrack } from '../system/conntrack.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { noopRecordKeeper } from './noop.js';

/** What `nftlb backend` does to a backend: drain or down set an override, undrain and up remove it (whichever it is). */
export type BackendAction = 'drain' | 'undrain' | 'down' | 'up';

/** What `nftlb backend` was asked. */
export interface BackendOptions {
  readonly config: string;
  readonly action: BackendAction;
  readonly service: string;
  /** The backend's address, and its port when one was given. */
  readonly address: Address;
  readonly port: number | undefined;
  /** Seconds to wait for the apply lock. */
  readonly waitSeconds: number;
}

/** How it went. */
export interface BackendOutcome {
  readonly table: string;
  readonly service: string;
  readonly endpoint: string;
  /** The backend's id: the ct mark its new connections get. */
  readonly id: number;
  /** The override before and after. */
  readonly previous: Override | null;
  readonly override: Override | null;
  /** The config's state of the backend, and the state it is planned with now (the stronger of config and override). */
  readonly configState: BackendState;
  readonly state: BackendState;
  /** What was done to the live table (incremental, full, or none). */
  readonly sync: SyncOutcome;
  /** Overrides of backends no longer in the config, removed from the file on the way. */
  readonly dropped: readonly string[];
  readonly warnings: readonly Diagnostic[];
  /** Reports of the shared state files (a state file that could not be read, ...). */
  readonly notes: readonly string[];
}

// `nftlb backend drain|undrain|down|up SERVICE ADDRESS[:PORT]`: records the override and brings the live table in line
// at once, through the same incremental path as nftlb health (sync(): one nft transaction behind the guard chain; a full
// reload only when the table is not the one nftlb health recorded). All of it under the apply lock, so it is serialized
// with apply, health and other backend commands; a running health --watch takes the override at its next sync.
// When the table cannot be updated the override file is put back: nothing is left half done.
export async function overrideBackend(host: Host, o: BackendOptions, now: Date = new Date()): Promise<BackendOutcome> {
  const { model, warnings, sha256 } = await loadModelAndDigest(o.config);
  // apply's no-op record, carried past this transaction when it is the only one (src/ops/noop.ts).
  const keeper = noopRecordKeeper(host, o.config, (m) => (m === model ? sha256 : undefined));
  const planned0 = plan(model);
  const target = findBackend(model, planned0, o);
  // down on an on-down reset service deletes the backend's connections once the table has changed: without conntrack
  // that would fail half done, so its absence stops the command here.
  if (o.action === 'down' && model.services[target.index]!.onDown === 'reset') await requireConntrack(host);
  const key = backendKey(target.service, target.backend.endpoint);
  const file = overridesFile(host.stateDir, model.table);
  const stateFile = healthStateFile(host.stateDir, model.table);
  const notes: string[] = [];
  const shared = new SharedState(stateFile, model.table, (m) => notes.push(m));
  const release = await acquireLock(host, o.waitSeconds);
  try {
    const before = await readOverrides(file, model.table);
    const keys = backendKeys(planned0);
    const backends: Record<string, OverrideRecord> = {};
    const dropped: string[] = [];
    for (const [k, r] of Object.entries(before.backends)) {
      if (keys.has(k)) backends[k] = r;
      else dropped.push(k);
    }
    const previous = before.backends[key]?.state ?? null;
    const want: Override | null = o.action === 'drain' ? 'drain' : o.action === 'down' ? 'down' : null;
    if (want === null) delete backends[key];
    else if (previous !== want) backends[key] = { state: want, since: now.toISOString() };
    const after = { ...before, backends };
    const rewrite = JSON.stringify(after) !== JSON.stringify(before);
    if (rewrite) await writeOverrides(file, after);
    let out: SyncOutcome;
    const record = await keeper.before(model).catch(() => undefined);
    try {
      const state = await shared.readSettled();
      const overrides: Record<string, Override> = {};
      for (const [k, r] of Object.entries(backends)) overrides[k] = r.state;
      out = await sync({ host, lockWaitSeconds: o.waitSeconds, lockHeld: true }, model, { ...state, overrides });
    } catch (e) {
      // The table was not changed: neither is the record of what the operator wants.
      if (rewrite) await writeOverrides(file, before).catch(() => undefined);
      throw e;
    }
    await writeHealthState(stateFile, out.state);
    await keeper.after(model, record, out).catch(() => undefined);
    const planned = out.plan.services[target.index]!.backends[target.backendIndex]!;
    return {
      table: model.table,
      service: target.service,
      endpoint: planned.endpoint,
      id: planned.id,
      previous,
      override: want,
      configState: planned.state,
      state: effectiveState(planned),
      sync: out,
      dropped,
      warnings,
      notes,
    };
  } finally {
    await release();
  }
}

// Every backend key of a plan.
function backendKeys(p: Plan): Set<string> {
  const out = new Set<string>();
  for (const s of p.services) for (const b of s.backends) out.add(backendKey(s.name, b.endpoint));
  return out;
}

// The backend the command names: the service by name, the backend by address (and port, when given). Anything else is
// a not-found error that lists what there is.
function findBackend(
  model: Model,
  p: Plan,
  o: BackendOptions,
): { service: string; index: number; backendIndex: number; backend: PlannedBackend } {
  const index = model.services.findIndex((s) => s.name === o.service);
  if (index < 0)
    throw new NftlbError(
      'not-found',
      `no service ${JSON.stringify(o.service)} in ${o.config} (services: ${some(model.services.map((s) => s.name))})`,
    );
  // The planned backends have their ports filled in (the service port when the backend has none).
  const backends = p.services[index]!.backends;
  const given = endpointText(o.address, o.port);
  const hits = backends
    .map((b, j) => ({ b, j }))
    .filter(({ b }) => b.address.text === o.address.text && (o.port === undefined || b.port === o.port));
  if (hits.length === 0)
    throw new NftlbError(
      'not-found',
      `service ${o.service} has no backend ${given} (backends: ${some(backends.map((b) => b.endpoint))})`,
    );
  if (hits.length > 1)
    throw new NftlbError(
      'not-found',
      `${given} is ${hits.length} backends of service ${o.service} (${hits.map((h) => h.b.endpoint).join(', ')}): give ADDRESS:PORT`,
    );
  return { service: o.service, index, backendIndex: hits[0]!.j, backend: hits[0]!.b };
}

// A list for a message: the first ten, and how many more.
function some(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const head = names.slice(0, 10).join(', ');
  return names.length > 10 ? `${head} and ${names.length - 10} more` : head;
}
