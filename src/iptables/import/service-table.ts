import { endpointText } from '../../model/address.js';
import type { Family, Protocol } from '../../model/types.js';
import type { ImportedBackend, ImportedPool, ImportedService } from './imported.js';
import { ListenerIndex } from './listener-index.js';
import { portRangeText } from './rule-values.js';
import type { ParsedRule } from './parsed-rule.js';

// The services found so far, by name (a service's IPv4 and IPv6 halves come from two files), and the operations that
// add a listener or a pool to one.

// A rule that matches one VIP, protocol and port set, whatever else it matches.
export function listenerShaped(r: ParsedRule): boolean {
  return r.vip !== undefined && (r.proto === 'tcp' || r.proto === 'udp') && r.dports !== undefined;
}

// The conditions of a listener-shaped rule that a config's listener (VIP, protocol, port) cannot say, or undefined.
export function listenerConditions(r: ParsedRule): string | undefined {
  const c = [
    r.src !== undefined && `-s ${r.src}`,
    r.inIf !== undefined && `-i ${r.inIf}`,
    r.outIf !== undefined && `-o ${r.outIf}`,
    r.mark !== undefined && '-m mark',
    r.connmark !== undefined && '-m connmark',
  ].filter((x): x is string => x !== false);
  return c.length === 0 ? undefined : c.join(', ');
}

// A rule that selects connections to one VIP, protocol and port set: the start of a service.
export function isListener(r: ParsedRule): boolean {
  return listenerShaped(r) && listenerConditions(r) === undefined;
}

// The VIP family of a listener rule.
export function listenerFamily(r: ParsedRule): Family {
  return r.vip!.family;
}

// A service name made from a listener, for a pool that carries none: tcp-203-0-113-1-80.
export function derivedName(r: ParsedRule): string {
  return `${r.proto}-${r.dst!.split('/')[0]!.replace(/[:.]/g, '-')}-${r.dportsText!.replace(/[:,]/g, '-')}`.slice(
    0,
    48,
  );
}

// The service name and scheduler an nftlb comment on the rule gives, else the fallback name.
export function nameOf(r: ParsedRule, fallback: string): { name: string; hint: string | undefined } {
  const n = r.note;
  return n?.kind === 'service' || n?.kind === 'guard'
    ? { name: n.name, hint: n.scheduler }
    : { name: fallback, hint: undefined };
}

// Lists of one service longer than this get an index (most services have one VIP, one protocol, one port).
const SHORT = 8;
const indexes = new WeakMap<unknown[], Set<string>>();

// Appends a value to a list unless it is there: a look along a short list, an index for a long one.
function addOnce<T>(list: T[], value: T, key: string, keyOf: (t: T) => string): void {
  if (list.length < SHORT) {
    if (!list.some((x) => keyOf(x) === key)) list.push(value);
    return;
  }
  let index = indexes.get(list);
  if (index === undefined) indexes.set(list, (index = new Set(list.map(keyOf))));
  if (index.has(key)) return;
  index.add(key);
  list.push(value);
}

const same = <T extends string>(t: T): string => t;

const backendKey = (b: ImportedBackend): string => `${endpointText(b.address, b.port)} ${b.weight}`;

// Two pools that balance alike (the same listener written in PREROUTING and in OUTPUT, say).
function samePool(a: ImportedPool, b: ImportedPool): boolean {
  return (
    a.scheduler === b.scheduler &&
    JSON.stringify(a.hash) === JSON.stringify(b.hash) &&
    a.backends.length === b.backends.length &&
    a.backends.every((x, i) => backendKey(x) === backendKey(b.backends[i]!))
  );
}

// Gives a service its pool of one family; a second, different pool of the same family cannot be one service (why).
// A pool like the one the service has is taken as the same (true, nothing added).
export function addPool(
  s: ImportedService,
  family: Family,
  source: string,
  pool: ImportedPool,
): 'added' | 'same' | string {
  const had = s.pools.find((p) => p.family === family);
  if (had !== undefined)
    return samePool(had.pool, pool)
      ? 'same'
      : `service ${s.name} already takes its IPv${family} connections from ${had.source}`;
  s.pools.push({ family, source, pool });
  // A pool with one backend shows no scheduler; a later pool (other family) with rules decides.
  if (s.pool === undefined || (s.pool.backends.length === 1 && pool.backends.length > 1)) s.pool = pool;
  return 'added';
}

// The services found so far, by name, in the order first found, and the listeners they have taken.
export class ServiceTable {
  private readonly byName = new Map<string, ImportedService>();
  private readonly listeners = new ListenerIndex();

  // Why a listener rule cannot be a listener of the named service: it overlaps one already taken.
  clash(r: ParsedRule, service: string): string | undefined {
    const vip = r.vip!;
    for (const p of r.dports!) {
      const t = this.listeners.clash(r.proto!, vip.text, p, service);
      if (t !== undefined)
        return `${vip.text} ${r.proto} port ${portRangeText(p)} overlaps the listener of service ${t.service} (${t.file}:${t.line})`;
    }
    return undefined;
  }

  // Adds a listener rule's VIP, protocol and ports to a service (check clash first), and the rule to its rules.
  addListener(s: ImportedService, r: ParsedRule): void {
    const vip = r.vip!;
    addOnce(s.vips, vip, vip.text, (a) => a.text);
    addOnce(s.protocols, r.proto as Protocol, r.proto!, same);
    for (const p of r.dports!) {
      const text = portRangeText(p);
      addOnce(s.ports, text, text, same);
      this.listeners.add(r.proto!, vip.text, { ...p, service: s.name, file: r.file, line: r.line });
    }
    s.listeners.push(r);
    s.rules.push(r);
  }

  // The service of this name, made when it is first asked for.
  get(name: string, file: string, line: number, hint: string | undefined): ImportedService {
    let s = this.byName.get(name);
    if (s === undefined) {
      s = {
        name,
        vips: [],
        protocols: [],
        ports: [],
        listeners: [],
        pool: undefined,
        pools: [],
        backends: [],
        nat: { masquerade: false, snat: [] },
        onEmpty: undefined,
        firstLine: line,
        hintScheduler: hint,
        rules: [],
        file,
      };
      this.byName.set(name, s);
    }
    return s;
  }

  // Every service, in the order first found.
  all(): ImportedService[] {
    return [...this.byName.values()];
  }
}
