import type { Address, BackendState, Family, HashField, Protocol } from '../../model/types.js';
import type { ParsedRule, Problem, Statistic } from './parsed-rule.js';

// The records the importer builds from iptables rules, before they become a config: backends, pools, services.

/** A backend found behind a DNAT. */
export interface ImportedBackend {
  readonly address: Address;
  readonly port: number | undefined;
  /** CONNMARK id of its chain (nftlb renders: the backend id, i.e. config order). */
  readonly id: number | undefined;
  state: BackendState;
  weight: number;
  /** State and configured weight from an nftlb comment on the backend chain. */
  readonly noted?: { readonly state: BackendState; readonly weight: number };
  /** The rules of its backend chain (none for a DNAT written inline in a pool). */
  readonly rules: readonly ParsedRule[];
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

/** A pool as a service holds it: the family of its listeners, the chain it came from (or the inline listener). */
export interface ServicePool {
  readonly family: Family;
  readonly source: string;
  readonly pool: ImportedPool;
}

/** A service as recognised: listeners, pool, NAT, and every rule it was made from. */
export interface ImportedService {
  readonly name: string;
  /** VIPs, protocols and ports (80, 8000-8010), each once, in the order found. */
  readonly vips: Address[];
  readonly protocols: Protocol[];
  readonly ports: string[];
  /** The listener rules those came from (a config listens on every VIP, protocol and port of the cross product; these
   * say which of those listeners the rules had). */
  readonly listeners: ParsedRule[];
  /** The pool that decides the scheduler: the first found, or the first with more than one backend. */
  pool: ImportedPool | undefined;
  /** At most one pool per family. */
  readonly pools: ServicePool[];
  readonly backends: ImportedBackend[];
  nat: { masquerade: boolean; snat: Address[] };
  onEmpty: 'reject' | 'drop' | undefined;
  readonly firstLine: number;
  readonly hintScheduler: string | undefined;
  /** The rules this service was made from: listeners, pool rules, guards, its own source NAT; backend chains are in
   * its backends. Listed as not understood if the service cannot be imported after all. */
  readonly rules: ParsedRule[];
  /** The file of its first rule. */
  readonly file: string;
}

/** What the recogniser made of the input: services, rules it understood but that have no config equivalent, and
 * rules it did not understand. */
export interface Recognised {
  readonly services: ImportedService[];
  readonly ignored: Problem[];
  readonly problems: Problem[];
}
