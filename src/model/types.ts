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

/** Backend state: up takes new connections, down takes none, drain takes none but keeps established ones (like down
 * for selection), backup takes new ones only while the primaries are all down or below the service's quorum. */
export type BackendState = 'up' | 'down' | 'drain' | 'backup';

/** A health check, defaults filled. Times in milliseconds. */
export type HealthCheck = {
  readonly interval: number;
  readonly timeout: number;
  readonly rise: number;
  readonly fall: number;
  /** Port probed; undefined: the backend's port (or the service's single port). */
  readonly port: number | undefined;
} & (
  | { readonly kind: 'tcp'; readonly send: string | undefined }
  | { readonly kind: 'banner'; readonly send: string | undefined; readonly expect: string }
  | ({ readonly kind: 'http' } & HttpRequest)
  | ({
      readonly kind: 'https';
      /** TLS server name (SNI) and the name the certificate is verified against; undefined: no SNI, and the
       *  certificate is verified against the probed address. */
      readonly sni: string | undefined;
      /** PEM file of the CA certificates that verify the backend; undefined: Node's built-in CA list. */
      readonly ca: string | undefined;
      /** false (no-verify): any certificate is accepted. */
      readonly verify: boolean;
    } & HttpRequest)
  | { readonly kind: 'exec'; readonly command: readonly string[] }
);

/** What an http or https check sends and expects. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Host header; undefined: the probed address:port. */
  readonly host: string | undefined;
  readonly status: readonly number[];
}

/** Per-service limits (nft `ct count` per backend, `limit rate` per service). */
export interface Limits {
  /** A new connection to a backend at its max-connections: rejected, or re-balanced to another backend. */
  readonly overflow: 'reject' | 'spill';
  /** New connections per second (and burst) to the service; undefined: no limit. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | undefined;
}

export interface Backend {
  /** JSON pointer of this backend in the config. */
  readonly path: string;
  readonly address: Address;
  /** Destination port; undefined keeps the port the client connected to. */
  readonly port: number | undefined;
  readonly weight: number;
  readonly state: BackendState;
  /** Health check of this backend (its own or the service's); undefined: not checked, its state is taken as is. */
  readonly health: HealthCheck | undefined;
  /** Limit on established connections; undefined: none. */
  readonly maxConnections: number | undefined;
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
  readonly onEmpty: 'reject' | 'drop' | 'keep';
  /** Minimum healthy primary weight; below it backups join. 0: backups only when no primary is up. */
  readonly quorum: number;
  /** What happens to established connections of a backend that goes down. */
  readonly onDown: 'keep' | 'reset';
  readonly limits: Limits;
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
