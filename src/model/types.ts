// The normalized config: defaults filled, addresses parsed and canonical, every element remembers where it came from.
import type { Cluster } from './cluster.js';

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
  /** DSR: probe the VIP through the backend instead of the backend's own address; absent: the backend's address. */
  readonly target?: 'vip';
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

/** Persistence (README.md, Persistence): a client's new connections go to the backend it was given within `timeout`
 *  seconds of its last new connection. Kernel state: one dynamic map per address family (and key), shared by every
 *  service. */
export interface Persistence {
  /** Seconds an entry lives after the client's last new connection. Default 300. */
  readonly timeout: number;
  /** saddr: the client address; saddr-daddr: the client address and the VIP it connected to. */
  readonly key: 'saddr' | 'saddr-daddr';
  /** Prefix lengths that group clients: IPv4 (default 32) and IPv6 (default 64, at most 96). */
  readonly netmask4: number;
  readonly netmask6: number;
  /** What the service adds to the capacity of its family's map. Default 65536. */
  readonly size: number;
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

/** Direct server return: the balancer rewrites only the Ethernet header (nft `fwd` in netdev ingress) and sends the
 *  client's packets to a backend on the same L2 segment; the backend answers the client directly. No conntrack, no NAT. */
export interface Dsr {
  /** The balancer's interface on the backends' segment: where the netdev ingress hook sees the clients' packets and
   *  where `fwd` sends them. */
  readonly interface: string;
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
  /** Absent: every new connection is scheduled. */
  readonly persistence?: Persistence;
  /** Absent: new connections are not logged (README.md, Logging and tracing). */
  readonly log?: ConnectionLog;
  readonly backends: readonly Backend[];
  /** Set for `forwarding: dsr`; absent for NAT (the default), so a NAT service's model is what it was before DSR. */
  readonly dsr?: Dsr;
}

export interface Model {
  /** nft table name (family inet). */
  readonly table: string;
  readonly services: readonly Service[];
  /** More than one balancer (src/model/cluster.ts); absent for one, so a config without it is what it was. */
  readonly cluster?: Cluster;
  /** Absent: no forward filter (the host forwards whatever its other rules allow). */
  readonly forward?: ForwardFilter;
}

/** An address prefix in canonical text (198.51.100.0/24, 2001:db8::/32): the network address and its length. */
export interface Prefix {
  readonly family: Family;
  readonly text: string;
}

/** The forward filter (README.md, Forward filter): with it the balancer forwards only the connections it balanced
 *  (both directions, related ICMP included) and the connections opened from the `accept` prefixes; every other
 *  forwarded packet is dropped and counted. */
export interface ForwardFilter {
  readonly policy: 'drop';
  /** Matched against the address that opened the connection (conntrack's original source), so these prefixes' own
   *  connections flow both ways while nobody outside can use the list to reach them. */
  readonly accept: readonly Prefix[];
}

/** nft log levels (syslog's, as nft names them). */
export type LogLevel = 'emerg' | 'alert' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'debug';

/** Per-service logging of new connections (README.md, Logging and tracing): one line per new connection naming the
 *  service and the backend chosen, at most `rate` lines per `unit` (and a burst of 5). */
export interface ConnectionLog {
  readonly rate: number;
  readonly unit: 'second' | 'minute' | 'hour' | 'day';
  /** kernel: the kernel log at `level` (journalctl -k); nflog: NFLOG group `group` (ulogd2). */
  readonly to:
    { readonly kind: 'kernel'; readonly level: LogLevel } | { readonly kind: 'nflog'; readonly group: number };
}

/** Default Maglev lookup table size: a prime well above 100 x the backends of a typical service. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 4093;
/** Persistence defaults (README.md): 5 minutes, one entry per IPv4 address or IPv6 /64, 65536 entries per service. */
export const PERSISTENCE_DEFAULTS: Persistence = {
  timeout: 300,
  key: 'saddr',
  netmask4: 32,
  netmask6: 64,
  size: 65536,
};
/** Connection log defaults (README.md): 10 lines a second, kernel log level info. */
export const LOG_DEFAULTS = { rate: 10, unit: 'second', level: 'info' } as const;
/** Default nft table name. */
export const DEFAULT_TABLE = 'nftlb';
