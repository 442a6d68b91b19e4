// Synthetic configs for the benchmark: S services x B backends, written as config text the way a user would.

/** Backends per service in every benchmark config. */
export const BACKENDS_PER_SERVICE = 4;

/** Port every backend listens on. */
export const BACKEND_PORT = 8080;

// 198.18.0.0/15 holds 131,072 addresses; skip .0 of the range and stay clear of its last address.
const BACKEND_RANGE_BASE = (198 << 24) | (18 << 16);
const BACKEND_RANGE_SIZE = 131_070;

/** The largest service count the VIP/port scheme can express with distinct listeners. */
export const MAX_SERVICES = 254_000;

// One service of a synthetic config: its listener and its backend addresses.
export interface BenchService {
  readonly name: string;
  readonly vip: string;
  readonly port: number;
  readonly backends: readonly string[];
}

const dotted = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

// Service i: VIP 203.0.113.(1 + floor(i / 1000)), port 1000 + i % 1000 (distinct listeners up to 254k services);
// backends are consecutive addresses of 198.18.0.0/15 (distinct within a service; the range wraps after ~32k services).
export function benchService(i: number): BenchService {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_SERVICES) throw new RangeError(`service index ${i} out of range`);
  const backends: string[] = [];
  for (let k = 0; k < BACKENDS_PER_SERVICE; k++) {
    backends.push(dotted(BACKEND_RANGE_BASE + 1 + ((i * BACKENDS_PER_SERVICE + k) % BACKEND_RANGE_SIZE)));
  }
  return { name: `svc${i}`, vip: `203.0.113.${1 + Math.floor(i / 1000)}`, port: 1000 + (i % 1000), backends };
}

// The services of a config of size n, in config order.
export function benchServices(n: number): BenchService[] {
  return Array.from({ length: n }, (_, i) => benchService(i));
}

// The config as YAML text, built as a string (not through a YAML serializer) so generating it costs little.
export function benchConfigYaml(n: number): string {
  const out: string[] = ['table: nftlbbench', 'services:'];
  for (const s of benchServices(n)) {
    out.push(`  - name: ${s.name}`, `    vip: ${s.vip}`, `    port: ${s.port}`, '    backends:');
    for (const b of s.backends) out.push(`      - address: ${b}`, `        port: ${BACKEND_PORT}`);
  }
  out.push('');
  return out.join('\n');
}

// The same config as JSON text (pretty-printed, as a person or a tool would write it); with `persistence`, every
// service keeps its clients (`persistence: {}`, the defaults).
export function benchConfigJson(n: number, o: { persistence?: boolean } = {}): string {
  const services = benchServices(n).map((s) => ({
    name: s.name,
    vip: s.vip,
    port: s.port,
    ...(o.persistence === true ? { persistence: {} } : {}),
    backends: s.backends.map((address) => ({ address, port: BACKEND_PORT })),
  }));
  return `${JSON.stringify({ table: 'nftlbbench', services }, null, 2)}\n`;
}
