import { seedFromName } from '../model/seed.js';
import { floatingNat, normalizeCluster } from './cluster.js';
import type { RawBackend, RawConfig, RawService } from './schema.js';
import type { Diagnostic } from '../common/diagnostic.js';
import { parseAddress, parsePrefix } from '../model/address.js';
import {
  DEFAULT_MAGLEV_TABLE_SIZE,
  DEFAULT_TABLE,
  LOG_DEFAULTS,
  PERSISTENCE_DEFAULTS,
  type Address,
  type Backend,
  type ConnectionLog,
  type ForwardFilter,
  type HashField,
  type HealthCheck,
  type HttpRequest,
  type Limits,
  type Model,
  type Nat,
  type Persistence,
  type PortRange,
  type Prefix,
  type Protocol,
  type Scheduler,
  type Service,
} from '../model/types.js';

// Result of normalize: the model, and the problems found while reading values (bad addresses, reversed ranges).
export interface Normalized {
  readonly model: Model;
  readonly diagnostics: readonly Diagnostic[];
}

// Turns a schema-valid config into the model: defaults filled, addresses canonical, seeds resolved. `indices` are the
// services' places in the file when raw holds only some of them (the valid ones of an invalid config), for their paths.
export function normalize(raw: RawConfig, indices?: readonly number[]): Normalized {
  const diagnostics: Diagnostic[] = [];
  const err = (path: string, code: string, message: string): void => {
    diagnostics.push({ path, code, message, severity: 'error' });
  };
  // The path is given in two parts, joined only for a diagnostic: 200k backends at 50k services.
  const address = (base: string, key: string, text: string): Address => {
    const a = parseAddress(text);
    if (a !== undefined) return a;
    // An address with its port (198.51.100.2:8080, [2001:db8::2]:8080), a common slip, is named as such.
    const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(\d+)$/.exec(text);
    const a4 = withPort?.[1] !== undefined && !withPort[1].startsWith('[');
    err(
      `${base}/${key}`,
      'address.invalid',
      withPort !== null && parseAddress(withPort[1]!.replace(/^\[|\]$/g, '')) !== undefined
        ? `expected an address without its port, got "${text}": write ${withPort[1]!.replace(/^\[|\]$/g, '')} and the port as port: ${withPort[2]}`
        : `expected an IPv4 or IPv6 address without prefix length, got "${text}"`,
    );
    // The family the text was meant to have (for the other rules), guessed: dotted decimal first, then a colon.
    return { family: a4 || /^\d{1,3}\.\d{1,3}\./.test(text) ? 4 : text.includes(':') ? 6 : 4, text };
  };

  // VIPs repeat across services (many services on one address): one Address object per distinct valid text. Invalid
  // ones are not cached, so each place they appear gets its diagnostic.
  const vipCache = new Map<string, Address>();
  const vip = (base: string, key: string, text: string): Address => {
    const cached = vipCache.get(text);
    if (cached !== undefined) return cached;
    const a = parseAddress(text);
    if (a === undefined) return address(base, key, text);
    vipCache.set(text, a);
    return a;
  };
  // A VIP given as one string gets a one-element list shared by every service on that address.
  const vipLists = new Map<Address, readonly Address[]>();
  const vipList = (a: Address): readonly Address[] => {
    let list = vipLists.get(a);
    if (list === undefined) vipLists.set(a, (list = [a]));
    return list;
  };
  const services = raw.services.map((s, i) =>
    normalizeService(s, `/services/${indices?.[i] ?? i}`, address, vip, vipList, err),
  );
  const forward = normalizeForward(raw.forward, err);
  // forward and cluster are left out of the model (and of its JSON) when the config has none.
  const base = { table: raw.table ?? DEFAULT_TABLE, services, ...(forward === undefined ? {} : { forward }) };
  if (raw.cluster === undefined) return { model: base, diagnostics };
  // Only a config with a cluster section carries the key (and vrrp's floating source NAT).
  const cluster = normalizeCluster(raw.cluster, address);
  return {
    model: { ...base, services: floatingNat(services, cluster), cluster },
    diagnostics,
  };
}

type AddressFn = (base: string, key: string, text: string) => Address;
type ErrFn = (path: string, code: string, message: string) => void;

// Values most services share, allocated once: the model is read-only, and at 50k services one object each per service
// is megabytes the GC has to copy.
const PROTOCOLS: Readonly<Record<Protocol, readonly Protocol[]>> = { tcp: ['tcp'], udp: ['udp'] };
const NO_LIMITS: Limits = { overflow: 'reject', rate: undefined };
const MASQUERADE: Nat = { kind: 'masquerade' };
const NO_NAT: Nat = { kind: 'none' };
const SINGLE_PORTS = new Map<number, readonly PortRange[]>();
const PLAIN_SCHEDULERS = {
  'round-robin': { kind: 'round-robin' },
  random: { kind: 'random' },
  'symmetric-hash': { kind: 'symmetric-hash' },
} as const satisfies Record<string, Scheduler>;

// "/backends/0", "/backends/1", ...: a backend's path is its service's path + one of these, a string of two parts where
// a template makes one of three (32 bytes more for each of the 200k backends of a 50k-service config).
const BACKEND_SUFFIXES: string[] = [];
const backendSuffix = (i: number): string => {
  while (BACKEND_SUFFIXES.length <= i) BACKEND_SUFFIXES.push(`/backends/${BACKEND_SUFFIXES.length}`);
  return BACKEND_SUFFIXES[i]!;
};

function normalizeService(
  s: RawService,
  path: string,
  address: AddressFn,
  vip: AddressFn,
  vipList: (a: Address) => readonly Address[],
  err: ErrFn,
): Service {
  const vips =
    typeof s.vip === 'string' ? vipList(vip(path, 'vip', s.vip)) : s.vip.map((v, i) => vip(path, `vip/${i}`, v));
  const protocols: readonly Protocol[] =
    s.protocol === undefined
      ? PROTOCOLS.tcp
      : typeof s.protocol === 'string'
        ? PROTOCOLS[s.protocol]
        : [...s.protocol].sort();
  const ports = typeof s.port === 'number' ? singlePort(s.port) : normalizePorts(s.port, `${path}/port`, err);
  // The service's health check is the default of its backends: read once, one object shared by those that take it.
  const health = s.health === undefined ? undefined : normalizeHealth(s.health);
  // An index loop, no closure per service (map would make the same holey array).
  const backends = new Array<Backend>(s.backends.length);
  for (let i = 0; i < backends.length; i++) {
    backends[i] = normalizeBackend(s.backends[i]!, path + backendSuffix(i), address, health);
  }
  const service: Service = {
    path,
    name: s.name,
    vips,
    protocols,
    ports,
    scheduler: normalizeScheduler(s, path, err),
    nat: normalizeNat(s.nat, path, address),
    onEmpty: s['on-empty'] ?? 'reject',
    quorum: s.quorum ?? 0,
    onDown: s['on-down'] ?? 'keep',
    limits:
      s['limit-overflow'] === undefined && s['rate-limit'] === undefined
        ? NO_LIMITS
        : {
            overflow: s['limit-overflow'] ?? 'reject',
            rate:
              s['rate-limit'] === undefined
                ? undefined
                : { perSecond: s['rate-limit'].rate, burst: s['rate-limit'].burst ?? 5 },
          },
    // Left undefined (and so out of the model's JSON) for a service without persistence.
    persistence: s.persistence === undefined ? undefined : normalizePersistence(s.persistence),
    // Likewise for a service that logs nothing.
    log: s.log === undefined || s.log.new === false ? undefined : normalizeLog(s.log),
    backends,
  };
  // Only DSR services carry the key (a missing interface is reported by the dsr rule).
  return s.forwarding === 'dsr' ? { ...service, dsr: { interface: s.interface ?? '' } } : service;
}

// Persistence with its defaults filled (README.md, Persistence).
function normalizePersistence(p: NonNullable<RawService['persistence']>): Persistence {
  return {
    timeout: p.timeout ?? PERSISTENCE_DEFAULTS.timeout,
    key: p.key ?? PERSISTENCE_DEFAULTS.key,
    netmask4: p.netmask ?? PERSISTENCE_DEFAULTS.netmask4,
    netmask6: p.netmask6 ?? PERSISTENCE_DEFAULTS.netmask6,
    size: p.size ?? PERSISTENCE_DEFAULTS.size,
  };
}

// The connection log with its defaults filled (README.md, Logging and tracing). level and group together are refused
// by a rule (src/config/rules/log-options.ts); group wins here.
function normalizeLog(l: NonNullable<RawService['log']>): ConnectionLog {
  const [count, unit] = (l.rate ?? `${LOG_DEFAULTS.rate}/${LOG_DEFAULTS.unit}`).split('/') as [
    string,
    ConnectionLog['unit'],
  ];
  return {
    rate: Number(count),
    unit,
    to:
      l.group !== undefined
        ? { kind: 'nflog', group: l.group }
        : { kind: 'kernel', level: l.level ?? LOG_DEFAULTS.level },
  };
}

// The forward filter (README.md, Forward filter), or undefined when there is none (no key, or policy accept).
function normalizeForward(f: RawConfig['forward'], err: ErrFn): ForwardFilter | undefined {
  if (f === undefined || f.policy === 'accept') return undefined;
  const accept: Prefix[] = [];
  (f.accept ?? []).forEach((text, i) => {
    const r = parsePrefix(text);
    if ('problem' in r) err(`/forward/accept/${i}`, 'forward.prefix', r.problem);
    else accept.push(r.prefix);
  });
  return { policy: 'drop', accept };
}

// The port list of a service with one port, shared by every service on that port.
function singlePort(port: number): readonly PortRange[] {
  let ports = SINGLE_PORTS.get(port);
  if (ports === undefined) SINGLE_PORTS.set(port, (ports = [{ first: port, last: port }]));
  return ports;
}

function normalizePorts(port: RawService['port'], path: string, err: ErrFn): PortRange[] {
  const items = Array.isArray(port) ? port : [port];
  const out: PortRange[] = [];
  items.forEach((p, i) => {
    const where = Array.isArray(port) ? `${path}/${i}` : path;
    if (typeof p === 'number') {
      out.push({ first: p, last: p });
      return;
    }
    const [a, b] = p.split('-').map(Number) as [number, number];
    if (a < 1 || b > 65535 || a > b) {
      err(where, 'port.range', `expected a range "first-last" with 1 <= first <= last <= 65535, got "${p}"`);
      return;
    }
    out.push({ first: a, last: b });
  });
  return out.sort((x, y) => x.first - y.first || x.last - y.last);
}

function normalizeBackend(
  b: RawBackend,
  path: string,
  address: AddressFn,
  serviceHealth: HealthCheck | undefined,
): Backend {
  return {
    path,
    address: address(path, 'address', b.address),
    port: b.port,
    weight: b.weight ?? 1,
    state: b.state ?? 'up',
    health: b.health === undefined ? serviceHealth : normalizeHealth(b.health),
    maxConnections: b['max-connections'],
  };
}

type RawHealth = NonNullable<RawService['health']>;

// Health check defaults: every 2 s, 1 s timeout, 2 passes up, 2 failures down; banner expects "220", http GET / 200.
export function normalizeHealth(h: RawHealth): HealthCheck {
  const base = {
    interval: Math.round((h.interval ?? 2) * 1000),
    timeout: Math.round((h.timeout ?? 1) * 1000),
    rise: h.rise ?? 2,
    fall: h.fall ?? 2,
    port: h.port,
    ...(h.target === 'vip' ? { target: 'vip' as const } : {}),
  };
  switch (h.type) {
    case 'tcp':
      return { ...base, kind: 'tcp', send: h.send };
    case 'banner':
      return { ...base, kind: 'banner', send: h.send, expect: h.expect ?? '220' };
    case 'http':
      return { ...base, kind: 'http', ...httpRequest(h) };
    case 'https':
      return {
        ...base,
        kind: 'https',
        ...httpRequest(h),
        sni: h.sni ?? hostName(h.host),
        ca: h.ca,
        verify: h['no-verify'] !== true,
      };
    case 'exec':
      return {
        ...base,
        kind: 'exec',
        // A list is taken as it is; a string keeps its old meaning: split on spaces, no shell.
        command: Array.isArray(h.command) ? [...h.command] : (h.command ?? '').split(' ').filter((w) => w.length > 0),
      };
  }
}

function httpRequest(h: RawHealth): HttpRequest {
  return {
    method: h.method ?? 'GET',
    path: h.path ?? '/',
    host: h.host,
    status: h.status === undefined ? [200] : typeof h.status === 'number' ? [h.status] : [...h.status],
  };
}

// The DNS name of a Host header value (without its :port), or undefined when it names an address: TLS never sends an
// address as server name (RFC 6066, 3).
export function hostName(host: string | undefined): string | undefined {
  if (host === undefined || host.startsWith('[')) return undefined;
  const colon = host.indexOf(':');
  if (colon >= 0 && host.indexOf(':', colon + 1) >= 0) return undefined; // an IPv6 address without brackets
  const name = colon < 0 ? host : host.slice(0, colon);
  return name === '' || parseAddress(name) !== undefined ? undefined : name;
}

function normalizeScheduler(s: RawService, path: string, err: ErrFn): Scheduler {
  const kind = s.scheduler ?? 'round-robin';
  if (kind !== 'source-hash' && kind !== 'maglev') return PLAIN_SCHEDULERS[kind];
  // Only the hashing schedulers need a seed; deriving one costs a sha256, which adds up at 50k services.
  const fields: HashField[] = s.hash?.fields ? [...s.hash.fields] : ['saddr'];
  const seed = s.hash?.seed === undefined ? seedFromName(s.name) : parseSeed(s.hash.seed, `${path}/hash/seed`, err);
  if (kind === 'source-hash') return { kind, fields, seed };
  return { kind, fields, seed, tableSize: s.hash?.['table-size'] ?? DEFAULT_MAGLEV_TABLE_SIZE };
}

function normalizeNat(nat: RawService['nat'], servicePath: string, address: AddressFn): Nat {
  if (nat === undefined || nat === 'masquerade') return MASQUERADE;
  if (nat === 'none') return NO_NAT;
  const path = `${servicePath}/nat`;
  const list = typeof nat.snat === 'string' ? [nat.snat] : nat.snat;
  const where = (i: number): string => (typeof nat.snat === 'string' ? 'snat' : `snat/${i}`);
  return { kind: 'snat', addresses: list.map((a, i) => address(path, where(i), a)) };
}

function parseSeed(seed: number | string, path: string, err: ErrFn): number {
  if (typeof seed === 'number') return seed;
  const n = Number.parseInt(seed.slice(2), 16);
  if (!Number.isFinite(n)) err(path, 'hash.seed', `expected a 32-bit seed, got "${seed}"`);
  return n >>> 0;
}
