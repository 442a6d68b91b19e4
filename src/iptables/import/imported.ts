import type { Address, HashField, Protocol } from '../../model/types.js';
import type { ParsedRule, Problem, Statistic } from './save-parser.js';

// The records the importer builds from iptables rules, before they become a config: backends, pools, services.

/** A backend found behind a DNAT. */
export interface ImportedBackend {
  readonly address: Address;
  readonly port: number | undefined;
  /** CONNMARK id of its chain (nftlb renders: the backend id, i.e. config order). */
  readonly id: number | undefined;
  state: 'up' | 'down' | 'drain' | 'backup';
  weight: number;
  /** State and configured weight from an nftlb comment on the backend chain. */
  readonly noted?: { readonly state: 'up' | 'down' | 'drain' | 'backup'; readonly weight: number };
}

/** One rule of a pool: under which condition it sends the connection to which backend. */
export interface Choice {
  readonly rule: ParsedRule;
  readonly backend: ImportedBackend;
  readonly statistic: Statistic | undefined;
  readonly mark: number | undefined;
}

/** The scheduler recovered from a pool's rules, and its backends (those that take connections) in rule order. */
export interface ImportedPool {
  readonly scheduler: 'round-robin' | 'random' | 'source-hash' | 'symmetric-hash' | 'maglev';
  readonly backends: ImportedBackend[];
  readonly hash?: { readonly fields: HashField[]; readonly seed: number; readonly tableSize?: number };
}

/** A service as recognised: listeners, pool, NAT. */
export interface ImportedService {
  name: string;
  readonly vips: Address[];
  readonly protocols: Set<Protocol>;
  readonly ports: Set<string>;
  /** The first pool found decides the scheduler; pools of the other family only add their backends. */
  pool: ImportedPool | undefined;
  readonly pools: ImportedPool[];
  readonly backends: ImportedBackend[];
  nat: { masquerade: boolean; snat: Address[] };
  onEmpty: 'reject' | 'drop' | undefined;
  readonly firstLine: number;
  readonly hintScheduler: string | undefined;
}

/** What the recogniser made of the input: services, rules it understood but that have no config equivalent, and
 * rules it did not understand. */
export interface Recognised {
  readonly services: ImportedService[];
  readonly ignored: Problem[];
  readonly problems: Problem[];
}
