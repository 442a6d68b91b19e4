// The normalized config: defaults filled, addresses parsed and canonical, every element remembers where it came from.

/** IP family of an address: 4 or 6. */
export type Family = 4 | 6;

/** Transport protocol of a service. */
export type Protocol = 'tcp' | 'udp';

/** Packet fields a hash can cover. */
export type HashField = 'saddr' | 'daddr' | 'sport' | 'dport';

/** An inclusive port range; a single port has first === last. */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** A parsed address in canonical text form (IPv6 per RFC 5952). */
export interface Address {
  readonly family: Family;
  readonly text: string;
}

/** How new connections pick a backend. Hash seeds are explicit 32-bit values so every reload maps clients the same way. */
export type Scheduler =
  | { readonly kind: 'round-robin' }
  | { readonly kind: 'random' }
  | { readonly kind: 'source-hash'; readonly fields: readonly HashField[]; readonly seed: number }
  | { readonly kind: 'symmetric-hash' }
  | {
      readonly kind: 'maglev';
      readonly fields: readonly HashField[];
      readonly seed: number;
      /** Lookup table size (prime). Default 4093. */
      readonly tableSize: number;
    };

/** Source NAT towards the backends. */
export type Nat =
  | { readonly kind: 'masquerade' }
  | { readonly kind: 'none' }
  | { readonly kind: 'snat'; readonly addresses: readonly Address[] };

/** Backend state: up takes new connections, down takes none. */
export type BackendState = 'up' | 'down';

export interface Backend {
  /** JSON pointer of this backend in the config. */
  readonly path: string;
  readonly address: Address;
  /** Destination port; undefined keeps the port the client connected to. */
  readonly port: number | undefined;
  readonly weight: number;
  readonly state: BackendState;
}

export interface Service {
  readonly path: string;
  readonly name: string;
  readonly vips: readonly Address[];
  readonly protocols: readonly Protocol[];
  readonly ports: readonly PortRange[];
  readonly scheduler: Scheduler;
  readonly nat: Nat;
  /** What a new connection gets when no backend is up. */
  readonly onEmpty: 'reject' | 'drop';
  readonly backends: readonly Backend[];
}

export interface Model {
  /** nft table name (family inet). */
  readonly table: string;
  readonly services: readonly Service[];
}

/** Default Maglev lookup table size: a prime well above 100 x the backends of a typical service. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 4093;
/** Default nft table name. */
export const DEFAULT_TABLE = 'nftlb';
