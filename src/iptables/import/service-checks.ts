import { endpointText } from '../../model/address.js';
import type { ImportedService } from './imported.js';
import type { ParsedRule, Problem } from './parsed-rule.js';

// What makes a recognised service impossible to write as a config service, said in the terms of the rules it came
// from; such a service is left out and its rules are listed as not understood.

// Why a service cannot be imported, or undefined when it can.
export function serviceProblem(s: ImportedService): string | undefined {
  if (s.pool === undefined && s.onEmpty === undefined)
    return `service ${s.name}: backend chains that no listener leads to`;
  if (s.backends.length === 0)
    return `service ${s.name}: new connections to the listener are refused, and no backend chain names it (a firewall rule, not a load balancer)`;
  const ports = s.ports;
  const overlap = overlappingPorts(ports);
  if (overlap !== undefined)
    return `service ${s.name}: listeners on ports ${overlap[0]} and ${overlap[1]}: a config's ports apply to every VIP of the service, and these overlap`;
  const single = ports.length === 1 && !ports[0]!.includes('-');
  const fixed = s.backends.find((b) => b.port !== undefined);
  if (!single && fixed !== undefined)
    return `service ${s.name}: DNAT to a fixed port (${endpointText(fixed.address, fixed.port)}) from the ports ${ports.join(', ')}: a config sends a port range or list to the same port on the backend`;
  const vipFamilies = new Set(s.vips.map((v) => v.family));
  const backendFamilies = new Set(s.backends.map((b) => b.address.family));
  for (const b of s.backends)
    if (!vipFamilies.has(b.address.family))
      return `service ${s.name}: IPv${b.address.family} backend ${b.address.text} but no IPv${b.address.family} listener`;
  for (const f of vipFamilies)
    if (!backendFamilies.has(f)) return `service ${s.name}: IPv${f} listener but no IPv${f} backend`;
  const table = s.pool?.hash?.tableSize;
  if (s.pool?.scheduler === 'maglev' && table !== undefined && table < s.backends.length)
    return `service ${s.name}: Maglev table of ${table} slots (HMARK --hmark-mod ${table}) for ${s.backends.length} backends: a config's table-size is at least its number of backends`;
  const seen = new Set<string>();
  for (const b of s.backends) {
    const key = endpointText(b.address, b.port);
    if (seen.has(key)) return `service ${s.name}: backend ${key} appears in two backend chains`;
    seen.add(key);
  }
  if (s.nat.snat.length > 0) {
    for (const f of vipFamilies) {
      const n = s.nat.snat.filter((a) => a.family === f).length;
      if (n !== 1)
        return `service ${s.name}: ${n === 0 ? 'no' : n} SNAT source address${n === 1 ? '' : 'es'} for IPv${f} (a config takes one per family)`;
    }
    const other = s.nat.snat.find((a) => !vipFamilies.has(a.family));
    if (other !== undefined) return `service ${s.name}: SNAT to ${other.text} but no IPv${other.family} listener`;
  }
  return undefined;
}

// Two port entries of a service (`80`, `8000-8010`) that share a port, or undefined: sorted by their first port, an
// entry overlaps when it starts at or below the last port of the entry reaching highest so far (one pass: a service
// read from a recipe may have thousands of entries).
function overlappingPorts(ports: readonly string[]): [string, string] | undefined {
  const ranges = ports
    .map((text) => {
      const [a, b] = text.split('-');
      return { text, first: Number(a), last: Number(b ?? a) };
    })
    .sort((x, y) => x.first - y.first);
  let widest = ranges[0];
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.first <= widest!.last) return [widest!.text, r.text];
    if (r.last > widest!.last) widest = r;
  }
  return undefined;
}

// Every rule a service was made from: its own and those of its backend chains.
function rulesOf(s: ImportedService): ParsedRule[] {
  return [...s.rules, ...s.backends.flatMap((b) => b.rules)];
}

// Leaves out the refused services: each of their rules that no kept service also uses is listed as not understood,
// with the reason. Returns the services kept.
export function leaveOut(
  services: readonly ImportedService[],
  refused: ReadonlyMap<ImportedService, string>,
  problems: Problem[],
): ImportedService[] {
  if (refused.size === 0) return [...services];
  const kept = services.filter((s) => !refused.has(s));
  const keep = new Set<ParsedRule>();
  for (const s of kept) for (const r of rulesOf(s)) keep.add(r);
  for (const [s, reason] of refused)
    for (const r of rulesOf(s)) {
      if (keep.has(r)) continue;
      keep.add(r);
      problems.push({ file: r.file, line: r.line, text: r.text, reason });
    }
  return kept;
}
