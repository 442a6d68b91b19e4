import type {
  Address,
  BackendState,
  ConnectionLog,
  Dsr,
  Family,
  ForwardFilter,
  HashField,
  Nat,
  Persistence,
  PortRange,
  Protocol,
} from '../model/types.js';

/** A runtime override of a backend's state (`nftlb backend drain|down`): it takes the backend out of new selections
 *  like the config state of the same name, without editing the config. */
export type Override = 'drain' | 'down';

/** First ct mark value used for slots; backend ids stay below it, so a mark < SLOT_BASE is always a backend id. */
export const SLOT_BASE = 0x100000;

/** The expression that turns a new connection into a slot number (before the slot -> backend lookup). */
export type Selector =
  | { readonly kind: 'constant' }
  | { readonly kind: 'numgen'; readonly mode: 'inc' | 'random'; readonly mod: number }
  | { readonly kind: 'jhash'; readonly fields: readonly HashField[]; readonly seed: number; readonly mod: number }
  | { readonly kind: 'symhash'; readonly mod: number };

/** A backend with its id: the ct mark of the connections it gets (kept by each for its life, while a reload that
 *  removes or inserts a backend above it gives it another id: src/plan/flows.ts). */
export interface PlannedBackend {
  readonly id: number;
  readonly path: string;
  readonly address: Address;
  readonly port: number | undefined;
  readonly weight: number;
  readonly state: BackendState;
  /** Health verdict used by this plan: 'unknown' when not checked or not probed yet (then its state decides). */
  readonly health: 'up' | 'down' | 'unknown';
  /** 198.51.100.2:8080, [2001:db8::2]:8080, or the bare address when the port is kept. */
  readonly endpoint: string;
  /** New connections beyond this many established ones are rejected; undefined: no limit. */
  readonly maxConnections: number | undefined;
  /** limit-overflow spill: at max-connections when planned, so out of selection like a drained backend. Set only
   *  when true (plans without spill serialize as before). */
  readonly full?: true;
  /** Persistence: the backend's tag (plan/persistence.ts), what a persistence entry names. Set only with persistence. */
  readonly tag?: number;
  /** DSR with a health check of `target: vip`: the probe connects to `vip`:`port` from the balancer's `sourcePort`,
   *  which the netdev table's loopback egress hook maps to this backend. Set only then. */
  readonly vipCheck?: VipCheck;
  /** The operator's override (`nftlb backend drain|down`) this plan used. Set only when there is one (plans without
   *  overrides serialize as before). */
  readonly override?: Override;
}

/** How a health probe reaches the VIP through one DSR backend (see PlannedBackend.vipCheck). */
export interface VipCheck {
  readonly vip: Address;
  readonly port: number;
  readonly sourcePort: number;
}

/** Source ports of VIP-path probes: VIP_PROBE_PORTS.first + (backend id mod count). Above Linux's default ephemeral
 *  range (32768-60999), so the kernel never gives them to another connection. */
export const VIP_PROBE_PORTS = { first: 61000, count: 4536 } as const;

/** One service in one address family: its own chain, selector and slot table. */
export interface Pool {
  readonly family: Family;
  readonly vips: readonly Address[];
  /** null when no backend of this family is up: new connections get the service's on-empty verdict. */
  readonly selector: Selector | null;
  /** ct mark value of slot 0; the selector yields slotBase .. slotBase + slots.length - 1. */
  readonly slotBase: number;
  /** Backend id for each slot. */
  readonly slots: readonly number[];
  /** Slot numbers reserved for this pool (slots.length <= capacity): the slot count with every backend of the family in,
   *  so a health change never moves another pool's slotBase. */
  readonly capacity: number;
  /** True when on-empty keep put the last known set in because nothing was healthy. */
  readonly kept: boolean;
}

export interface PlannedService {
  readonly name: string;
  readonly path: string;
  readonly protocols: readonly Protocol[];
  readonly ports: readonly PortRange[];
  readonly nat: Nat;
  readonly onEmpty: 'reject' | 'drop' | 'keep';
  readonly quorum: number;
  readonly onDown: 'keep' | 'reset';
  readonly scheduler: string;
  /** New connections per second (token bucket with burst) to the service; excess ones are dropped. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number } | undefined;
  /** All backends of the service, up or down, in config order; ids are contiguous. */
  readonly backends: readonly PlannedBackend[];
  readonly pools: readonly Pool[];
  /** Persistence with the service's mark (plan/persistence.ts); absent without persistence. */
  readonly persistence?: PlannedPersistence;
  /** forwarding: dsr (the netdev table forwards its packets); absent for NAT, so NAT plans serialize as before. */
  readonly dsr?: Dsr;
  /** Logging of new connections; absent when the service logs nothing. */
  readonly log?: ConnectionLog;
}

/** A service's persistence as planned: the config's settings and the mark its entries are keyed by. */
export interface PlannedPersistence extends Persistence {
  /** The service key in the ct mark's upper bits; every tag of the service carries it. */
  readonly mark: number;
}

/** Everything the renderers need, decided: ids, slots, selectors. Same model -> same plan. */
export interface Plan {
  /** The table name (validated by the config rules). */
  readonly table: string;
  readonly services: readonly PlannedService[];
  /** The forward filter; absent when there is none. */
  readonly forward?: ForwardFilter;
}
