import type { PortRange } from '../../model/types.js';
import type { ImportedService } from './imported.js';
import { ListenerIndex, type TakenListener } from './listener-index.js';
import type { ParsedRule } from './parsed-rule.js';
import { portRangeText } from './rule-values.js';

// A config service listens on each of its protocols and ports at every one of its VIPs (a cross product). A service
// read from listener rules that differ (tcp on one VIP and udp on another, port 80 on one VIP and 443 on another, tcp
// 80 and udp 53 on one VIP) gets listeners in a config that its rules never had. Where such a listener overlaps
// another service's, the config check would refuse one of the two (and it may be the one whose rules have that
// listener); the importer lists the service whose config invents it instead, in the rules' terms.

/** One listener of a service's cross product. */
interface Listener {
  readonly vip: string;
  readonly proto: string;
  readonly ports: PortRange;
}

// The services whose config would listen where their rules do not, overlapping a listener of another of these
// services, each with why. The services' own port entries must not overlap (serviceProblem refuses those first). Two
// services that would invent overlapping listeners: the first keeps its, the second is listed. Decided in one pass: a
// service is listed for a listener of another even when that one is listed too (the rules overlap all the same).
export function inventedListenerClashes(services: readonly ImportedService[]): Map<ImportedService, string> {
  const index = new ListenerIndex();
  for (const s of services)
    for (const r of s.listeners)
      for (const p of r.dports!)
        index.add(r.proto!, r.vip!.text, { ...p, service: s.name, file: r.file, line: r.line });
  const invented = new Set<TakenListener>();
  const refused = new Map<ImportedService, string>();
  for (const s of services) {
    const extra = inventedListeners(s);
    let why: string | undefined;
    for (const l of extra) {
      const t = index.clash(l.proto, l.vip, l.ports, s.name);
      if (t === undefined) continue;
      why = reason(s, l, t, invented.has(t));
      break;
    }
    if (why !== undefined) {
      refused.set(s, why);
      continue;
    }
    for (const l of extra) {
      const from = s.listeners.find((r) => r.vip!.text === l.vip)!;
      const t: TakenListener = { ...l.ports, service: s.name, file: from.file, line: from.line };
      index.add(l.proto, l.vip, t);
      invented.add(t);
    }
  }
  return refused;
}

// The listeners of a service's cross product that none of its rules has. Most services have one VIP, protocol and
// port: nothing to look at.
function inventedListeners(s: ImportedService): Listener[] {
  if (s.vips.length * s.protocols.length * s.ports.length === 1) return [];
  const had = new Set<string>();
  for (const r of s.listeners) for (const p of r.dports!) had.add(`${r.vip!.text} ${r.proto} ${portRangeText(p)}`);
  if (had.size === s.vips.length * s.protocols.length * s.ports.length) return [];
  const out: Listener[] = [];
  for (const v of s.vips)
    for (const proto of s.protocols)
      for (const text of s.ports) {
        if (had.has(`${v.text} ${proto} ${text}`)) continue;
        const [a, b] = text.split('-');
        out.push({ vip: v.text, proto, ports: { first: Number(a), last: Number(b ?? a) } });
      }
  return out;
}

// Why a service is listed: the listener rules its invented listener comes from (its VIP, protocol and port), that
// listener, and the one of another service it overlaps.
function reason(s: ImportedService, l: Listener, t: TakenListener, tInvented: boolean): string {
  const hasPort = (r: ParsedRule): boolean =>
    r.dports!.some((p) => p.first === l.ports.first && p.last === l.ports.last);
  const atVip = s.listeners.filter((r) => r.vip!.text === l.vip);
  const first = atVip.find((r) => r.proto === l.proto) ?? atVip.find(hasPort) ?? atVip[0]!;
  const from = [first];
  if (first.proto !== l.proto && !hasPort(first)) {
    const both = s.listeners.find((r) => r.proto === l.proto && hasPort(r));
    if (both !== undefined) from.push(both);
    else
      from.push(
        s.listeners.find((r) => r.proto === l.proto)!,
        s.listeners.find(hasPort)!,
      );
  } else if (first.proto !== l.proto) from.push(s.listeners.find((r) => r.proto === l.proto)!);
  else from.push(s.listeners.find(hasPort)!);
  const rules = from.map(
    (r) => `${r.vip!.text} ${r.proto} port ${r.dports!.map(portRangeText).join(',')} (${r.file}:${r.line})`,
  );
  const list = rules.length === 2 ? rules.join(' and ') : `${rules.slice(0, -1).join(', ')} and ${rules.at(-1)}`;
  const other = tInvented
    ? `a listener service ${t.service} would get the same way (${t.file}:${t.line})`
    : `the listener of service ${t.service} (${t.file}:${t.line})`;
  return (
    `service ${s.name}: listeners ${list}: a config's protocols and ports apply to every VIP of the service, each ` +
    `protocol with each port, so it would also listen on ${l.vip} ${l.proto} port ${portRangeText(l.ports)}, which ` +
    `overlaps ${other}`
  );
}
