import { endpointText } from '../model/address.js';
import type { Backend, BackendState, Family, Model, Scheduler, Service } from '../model/types.js';
import { equalWeights, selectFor } from './selector.js';
import { reduceWeights } from './weights.js';
import { backendTags, persistenceMarks } from './persistence.js';
import {
  SLOT_BASE,
  VIP_PROBE_PORTS,
  type Override,
  type Plan,
  type PlannedBackend,
  type PlannedService,
  type Pool,
  type VipCheck,
} from './types.js';

/** Read access by key: a Map, or a view of a plain record (nftlb health keeps its verdicts in one). */
export interface Lookup<V> {
  get(key: string): V | undefined;
}

/** Health verdicts to plan with (from `nftlb health`); without one every backend is taken as its state says. */
export interface HealthOverlay {
  /** Probe verdict by backend key (backendKey()); backends not listed count as healthy. */
  readonly health: Lookup<'up' | 'down'>;
  /** on-empty keep: the last non-empty set of each pool (poolKey()), as backend keys. */
  readonly lastKnown?: Lookup<readonly string[]>;
  /** limit-overflow spill: backends at their max-connections (by backend key); they take no new connections. */
  readonly full?: Lookup<true>;
  /** The operator's overrides (`nftlb backend drain|down`) by backend key; undefined when there are none, so a plan
   *  without overrides builds no key for unchecked backends. */
  readonly override?: Lookup<Override>;
}

// The stable name of a backend across reloads: service name and endpoint (ids move when the config is reordered).
export function backendKey(service: string, endpoint: string): string {
  return `${service}/${endpoint}`;
}

// The stable name of one family's pool of a service.
export function poolKey(service: string, family: Family): string {
  return `${service}/v${family}`;
}

// Decides ids, slots and selectors for a validated model. Pure and deterministic: config order gives the ids, and each
// pool reserves the slots it would need with every backend in, so health changes rewrite only that pool's elements.
export function plan(model: Model, overlay?: HealthOverlay): Plan {
  let nextId = 1;
  let nextSlot = SLOT_BASE;
  const marks = persistenceMarks(model);
  const services = model.services.map((s): PlannedService => {
    const planned = planService(s, nextId, nextSlot, overlay, marks.get(s.name));
    nextId += s.backends.length;
    const last = planned.pools[planned.pools.length - 1];
    if (last !== undefined) nextSlot = last.slotBase + last.capacity;
    return planned;
  });
  return model.forward === undefined
    ? { table: model.table, services }
    : { table: model.table, services, forward: model.forward };
}

// Plans again only the services at `indexes` (of model.services) with another overlay; every other service is the
// very object of `prev`. Ids and slot ranges never depend on health (pools reserve their capacity), so each replanned
// service starts at the id and slot of its previous plan: replan(plan(m, a), m, b, changed) deep-equals plan(m, b)
// when the services outside `changed` have the same verdicts (and on-empty keep sets) in a and b. `prev` must be a plan
// of this very model.
export function replan(prev: Plan, model: Model, overlay: HealthOverlay, indexes: Iterable<number>): Plan {
  if (prev.services.length !== model.services.length) throw new Error('replan: the plan is of another model');
  const services = prev.services.slice();
  for (const i of indexes) {
    const s = model.services[i];
    const was = prev.services[i];
    if (s === undefined || was === undefined) throw new Error(`replan: no service ${i}`);
    if (was.name !== s.name || was.backends.length !== s.backends.length)
      throw new Error(`replan: service ${s.name}: the plan is of another model`);
    const mark = was.persistence?.mark;
    services[i] = planService(s, was.backends[0]?.id ?? 1, was.pools[0]?.slotBase ?? SLOT_BASE, overlay, mark);
  }
  return { ...prev, services };
}

// One service, its backends numbered from firstId and its pools' slot ranges laid out from firstSlot.
function planService(
  s: Service,
  firstId: number,
  firstSlot: number,
  overlay: HealthOverlay | undefined,
  persistMark?: number,
): PlannedService {
  let nextId = firstId;
  const port = singlePort(s);
  let backends: PlannedBackend[] = s.backends.map((b) => {
    const endpoint = endpointText(b.address, b.port ?? port);
    const planned: PlannedBackend = {
      id: nextId++,
      path: b.path,
      address: b.address,
      port: b.port ?? port,
      weight: b.weight,
      state: b.state,
      // The key string is built only for a checked backend with an overlay (none at all for a plain render).
      health:
        b.health === undefined || overlay === undefined
          ? 'unknown'
          : healthOf(b, overlay.health.get(backendKey(s.name, endpoint))),
      endpoint,
      maxConnections: b.maxConnections,
    };
    const full =
      overlay?.full !== undefined &&
      b.maxConnections !== undefined &&
      s.limits.overflow === 'spill' &&
      overlay.full.get(backendKey(s.name, endpoint)) === true;
    const override = overlay?.override?.get(backendKey(s.name, endpoint));
    const marked = override === undefined ? planned : { ...planned, override };
    if (full) return { ...marked, full: true };
    const via = s.dsr !== undefined && b.health?.target === 'vip' ? vipCheckOf(s, marked, b.health.port) : undefined;
    return via === undefined ? marked : { ...marked, vipCheck: via };
  });
  const persistence =
    s.persistence === undefined || persistMark === undefined ? undefined : { ...s.persistence, mark: persistMark };
  if (persistence !== undefined) {
    const tags = backendTags(
      persistence.mark,
      backends.map((b) => b.endpoint),
    );
    backends = backends.map((b, i) => ({ ...b, tag: tags[i]! }));
  }
  // Families as bit sets (bit 4, bit 6): no arrays or closures per service at 50k services.
  let vipFams = 0;
  for (let i = 0; i < s.vips.length; i++) vipFams |= 1 << s.vips[i]!.family;
  let backendFams = 0;
  for (let i = 0; i < backends.length; i++) backendFams |= 1 << backends[i]!.address.family;
  // Single-family services (most) use the service's own arrays instead of filtered copies.
  const oneFamily = (vipFams === 1 << 4 || vipFams === 1 << 6) && (backendFams | vipFams) === vipFams;
  // Array literals, not push: a pushed-to array keeps room for 16 more pools, kilobytes per thousand services.
  let pools: Pool[];
  if (vipFams === ((1 << 4) | (1 << 6))) {
    const v4 = planPool(s, 4, backends, oneFamily, firstSlot, overlay);
    pools = [v4, planPool(s, 6, backends, oneFamily, v4.slotBase + v4.capacity, overlay)];
  } else if (vipFams === 1 << 4 || vipFams === 1 << 6) {
    pools = [planPool(s, vipFams === 1 << 4 ? 4 : 6, backends, oneFamily, firstSlot, overlay)];
  } else {
    pools = [];
  }
  const out: PlannedService = {
    name: s.name,
    path: s.path,
    protocols: s.protocols,
    ports: s.ports,
    nat: s.nat,
    onEmpty: s.onEmpty,
    quorum: s.quorum,
    onDown: s.onDown,
    scheduler: s.scheduler.kind,
    rateLimit: s.limits.rate,
    backends,
    pools,
  };
  const withLog = s.log === undefined ? out : { ...out, log: s.log };
  const withPersistence = persistence === undefined ? withLog : { ...withLog, persistence };
  return s.dsr === undefined ? withPersistence : { ...withPersistence, dsr: s.dsr };
}

// The pool of one family of a service, its slots reserved from slotBase.
function planPool(
  s: Service,
  family: Family,
  backends: readonly PlannedBackend[],
  oneFamily: boolean,
  slotBase: number,
  overlay: HealthOverlay | undefined,
): Pool {
  const all = oneFamily ? backends : backends.filter((b) => b.address.family === family);
  const { chosen, kept } = choose(s, family, all, overlay);
  const vips = oneFamily ? s.vips : s.vips.filter((v) => v.family === family);
  const capacity = slotCapacity(s.scheduler, all);
  if (chosen.length === 0) return { family, vips, selector: null, slotBase, slots: [], capacity, kept };
  // DSR keeps no connection state, so a backend leaving its pool must move only its own flows: the Maglev table of
  // every non-backup backend stays, and only the slots of backends out of selection are given to the others
  // (stickyMaglev). Backups in selection (the primaries' weight below the quorum) are in that table as if the config
  // listed them as primaries: left out, they would get no slot while every primary is in.
  const base = s.dsr !== undefined && s.scheduler.kind === 'maglev' ? stickyBase(all, chosen) : undefined;
  const { selector, slots } = selectFor(s.scheduler, chosen, base);
  return { family, vips, selector, slotBase, slots, capacity, kept };
}

// The backends of a DSR Maglev pool's lasting table: every non-backup one, and the backups in selection (a Set only when
// some backup is in: `includes` per backend is quadratic in a pool of thousands).
function stickyBase(all: readonly PlannedBackend[], chosen: readonly PlannedBackend[]): readonly PlannedBackend[] {
  const backups = chosen.some((b) => b.state === 'backup') ? new Set(chosen) : undefined;
  return all.filter((b) => b.state !== 'backup' || backups?.has(b) === true);
}

function healthOf(b: Backend, verdict: 'up' | 'down' | undefined): PlannedBackend['health'] {
  return b.health === undefined || verdict === undefined ? 'unknown' : verdict;
}

// Takes new connections as far as checks and limits go: not found down, not full (limit-overflow spill).
const healthy = (b: PlannedBackend): boolean => b.health !== 'down' && b.full !== true;

// The state a backend is planned with: the config's, unless the operator's override takes it further out of selection
// (down over drain over up and backup). A backend the config sets down stays down whatever the override.
export function effectiveState(b: { readonly state: BackendState; readonly override?: Override }): BackendState {
  if (b.override === undefined || b.state === 'down' || (b.state === 'drain' && b.override === 'drain')) return b.state;
  return b.override;
}

// Which backends of one family take new connections: healthy primaries; healthy backups too when no primary is healthy
// or their weight is below the quorum; drain, down and full never. With on-empty keep and nothing healthy, the last known set.
function choose(
  s: Service,
  family: Family,
  all: readonly PlannedBackend[],
  overlay: HealthOverlay | undefined,
): { chosen: readonly PlannedBackend[]; kept: boolean } {
  // Every backend up and healthy (the common pool): all of them, with no copies.
  if (all.length > 0 && allUp(all)) return { chosen: all, kept: false };
  const primaries = all.filter((b) => effectiveState(b) === 'up' && healthy(b));
  const backups = all.filter((b) => effectiveState(b) === 'backup' && healthy(b));
  const weight = primaries.reduce((a, b) => a + b.weight, 0);
  const chosen = primaries.length === 0 || weight < s.quorum ? [...primaries, ...backups] : primaries;
  if (chosen.length > 0 || s.onEmpty !== 'keep') return { chosen, kept: false };
  const last = new Set(overlay?.lastKnown?.get(poolKey(s.name, family)) ?? []);
  const eligible = all.filter((b) => effectiveState(b) === 'up' || effectiveState(b) === 'backup');
  const known = eligible.filter((b) => last.has(backendKey(s.name, b.endpoint)));
  if (known.length > 0) return { chosen: known, kept: true };
  const ups = eligible.filter((b) => effectiveState(b) === 'up');
  return { chosen: ups.length > 0 ? ups : eligible, kept: eligible.length > 0 };
}

function allUp(all: readonly PlannedBackend[]): boolean {
  for (let i = 0; i < all.length; i++) {
    const b = all[i]!;
    if (b.state !== 'up' || b.override !== undefined || !healthy(b)) return false;
  }
  return true;
}

// DSR's VIP-path probe of a backend: the first VIP of its family, the check's port (or the backend's), and a source
// port derived from the backend id (config/rules/dsr.ts refuses configs where two probes of one VIP and port would
// share one).
export function vipCheckOf(s: Service, b: PlannedBackend, checkPort: number | undefined): VipCheck | undefined {
  const vip = s.vips.find((v) => v.family === b.address.family);
  const port = checkPort ?? b.port;
  if (vip === undefined || port === undefined) return undefined;
  return { vip, port, sourcePort: VIP_PROBE_PORTS.first + (b.id % VIP_PROBE_PORTS.count) };
}

// Slots a pool needs when every backend of its family is in: an upper bound for any subset (a subset's weights reduce
// by a multiple of the whole set's GCD), so a pool never outgrows its reservation.
function slotCapacity(scheduler: Scheduler, all: readonly PlannedBackend[]): number {
  if (all.length <= 1) return all.length;
  if (scheduler.kind === 'maglev') return scheduler.tableSize;
  // Equal weights reduce to one slot each.
  if (equalWeights(all)) return all.length;
  return reduceWeights(all.map((b) => b.weight)).reduce((a, b) => a + b, 0);
}

// The service port when there is exactly one: backends without a port then get it, so the map holds address . port.
function singlePort(s: Service): number | undefined {
  const only = s.ports.length === 1 ? s.ports[0] : undefined;
  return only !== undefined && only.first === only.last ? only.first : undefined;
}
