import { seedFromName } from '../../model/seed.js';
import type { ImportedBackend, ImportedService } from './imported.js';
import { yamlText } from './yaml-writer.js';

// Turns recognised services into an nftlb config object, writing only what differs from the defaults.

const byId = (list: readonly ImportedBackend[]): ImportedBackend[] =>
  list.every((b) => b.id !== undefined) ? [...list].sort((a, b) => a.id! - b.id!) : [...list];

// The lowest backend id of a service (Infinity when a backend has none): nftlb numbers backends in config order.
const firstId = (s: ImportedService): number => {
  let min = Infinity;
  for (const b of s.backends) min = Math.min(min, b.id ?? Infinity);
  return min;
};

const one = <T>(list: readonly T[]): T | T[] => (list.length === 1 ? list[0]! : [...list]);

/** A config object and the service each of its entries came from (`order[i]` is `services[i]`). */
export interface WrittenConfig {
  readonly config: { services: Record<string, unknown>[] };
  readonly order: readonly ImportedService[];
}

// The config object for recognised services: in backend-id order when every backend has an id (nftlb's render), else
// in the order of their first rule.
export function toConfig(services: readonly ImportedService[]): WrittenConfig {
  const ids = new Map(services.map((s) => [s, firstId(s)]));
  const order = [...ids.values()].every((id) => Number.isFinite(id))
    ? [...services].sort((a, b) => ids.get(a)! - ids.get(b)!)
    : [...services].sort((a, b) => a.firstLine - b.firstLine);
  return { config: { services: order.map(serviceConfig) }, order };
}

function portValue(p: string): number | string {
  return /^[0-9]+$/.test(p) ? Number(p) : p;
}

function serviceConfig(s: ImportedService): Record<string, unknown> {
  const out: Record<string, unknown> = { name: s.name };
  out.vip = one(s.vips.map((v) => v.text));
  const protocols = [...s.protocols].sort();
  if (!(protocols.length === 1 && protocols[0] === 'tcp')) out.protocol = one(protocols);
  const ports = [...s.ports].sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).map(portValue);
  out.port = one(ports);
  const scheduler = s.pool?.scheduler ?? s.hintScheduler ?? 'round-robin';
  if (scheduler !== 'round-robin') out.scheduler = scheduler;
  const hash = s.pool?.hash;
  if (hash !== undefined) {
    const h: Record<string, unknown> = {};
    if (!(hash.fields.length === 1 && hash.fields[0] === 'saddr')) h.fields = hash.fields;
    if (hash.seed !== seedFromName(s.name)) h.seed = `0x${hash.seed.toString(16)}`;
    if (hash.tableSize !== undefined) h['table-size'] = hash.tableSize;
    if (Object.keys(h).length > 0) out.hash = h;
  }
  if (s.nat.snat.length > 0) out.nat = { snat: one(s.nat.snat.map((a) => a.text)) };
  else if (!s.nat.masquerade) out.nat = 'none';
  if (s.onEmpty === 'drop') out['on-empty'] = 'drop';
  out.backends = byId(s.backends).map((b) => {
    const o: Record<string, unknown> = { address: b.address.text };
    if (b.port !== undefined) o.port = b.port;
    if (b.weight !== 1) o.weight = b.weight;
    if (b.state !== 'up') o.state = b.state;
    return o;
  });
  return out;
}

// YAML text of a config object.
export function configYaml(config: { services: Record<string, unknown>[] }): string {
  return yamlText(config);
}
