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

/** A port entry of a service, as text (80, 8000-8010) and as numbers. */
interface Entry extends PortRange {
  readonly text: string;
}

/** The listeners a service's rules have: port entries by `VIP protocol`. */
type Had = Map<string, Set<string>>;

/** A listener of a service's cross product that its rules do not have, and the listener it overlaps. */
interface Clash {
  readonly vip: string;
  readonly proto: string;
  readonly entry: Entry;
  readonly taken: TakenListener;
}

// The services whose config would listen where their rules do not, overlapping a listener of another of these
// services, each with why. The services' own port entries must not overlap (serviceProblem refuses those first). Two
// services that would invent overlapping listeners: the first keeps its, the second is listed. Decided in one pass: a
// service is listed for a listener of another even when that one is listed too (the rules overlap all the same).
// One look-up per listener of the configs (as the config check makes), and none when no service invents a listener.
export function inventedListenerClashes(services: readonly ImportedService[]): Map<ImportedService, string> {
  const refused = new Map<ImportedService, string>();
  const inventing = new Map<ImportedService, Had>();
  for (const s of services) {
    const had = inventsListeners(s);
    if (had !== undefined) inventing.set(s, had);
  }
  if (inventing.size === 0) return refused;
  const index = new ListenerIndex();
  for (const s of services)
    for (const r of s.listeners)
      for (const p of r.dports!)
        index.add(r.proto!, r.vip!.text, { ...p, service: s.name, file: r.file, line: r.line });
  const hadOf = new Map([...inventing].map(([s, had]) => [s.name, had]));
  let left = inventing.size;
  for (const [s, had] of inventing) {
    left--;
    const entries = s.ports.map((text): Entry => {
      const [a, b] = text.split('-');
      return { text, first: Number(a), last: Number(b ?? a) };
    });
    const clash = firstClash(s, had, entries, index);
    if (clash !== undefined) {
      const t = clash.taken;
      const other = hadOf.get(t.service);
      const tInvented = other !== undefined && other.get(`${clash.vip} ${clash.proto}`)?.has(portRangeText(t)) !== true;
      refused.set(s, reason(s, clash, tInvented));
      continue;
    }
    // Its invented listeners, for the services after it (if any): one record per port entry, under the first rule
    // with that entry (a service may invent a million listeners, from a thousand VIPs and a thousand ports).
    if (left === 0) break;
    const withPort = new Map<string, ParsedRule>();
    for (const r of s.listeners)
      for (const p of r.dports!) if (!withPort.has(portRangeText(p))) withPort.set(portRangeText(p), r);
    const taken = entries.map((e): TakenListener => {
      const from = withPort.get(e.text)!;
      return { first: e.first, last: e.last, service: s.name, file: from.file, line: from.line };
    });
    for (const v of s.vips)
      for (const proto of s.protocols) {
        const got = had.get(`${v.text} ${proto}`);
        for (let i = 0; i < entries.length; i++)
          if (got?.has(entries[i]!.text) !== true) index.add(proto, v.text, taken[i]!);
      }
  }
  return refused;
}

// The listeners a service's rules have, when its cross product holds more (else undefined). Most services have one VIP,
// protocol and port: nothing to look at.
function inventsListeners(s: ImportedService): Had | undefined {
  const product = s.vips.length * s.protocols.length * s.ports.length;
  if (product === 1) return undefined;
  const had: Had = new Map();
  let n = 0;
  for (const r of s.listeners) {
    const key = `${r.vip!.text} ${r.proto}`;
    let got = had.get(key);
    if (got === undefined) had.set(key, (got = new Set()));
    for (const p of r.dports!) {
      const text = portRangeText(p);
      if (got.has(text)) continue;
      got.add(text);
      n++;
    }
  }
  return n === product ? undefined : had;
}

// The first listener of a service's cross product that its rules do not have and that overlaps a listener taken.
function firstClash(s: ImportedService, had: Had, entries: readonly Entry[], index: ListenerIndex): Clash | undefined {
  for (const v of s.vips)
    for (const proto of s.protocols) {
      const got = had.get(`${v.text} ${proto}`);
      for (const entry of entries) {
        if (got?.has(entry.text) === true) continue;
        const taken = index.clash(proto, v.text, entry, s.name);
        if (taken !== undefined) return { vip: v.text, proto, entry, taken };
      }
    }
  return undefined;
}

// Why a service is listed: the listener rules its invented listener comes from (its VIP, protocol and port), that
// listener, and the one of another service it overlaps (which that service's rules have, or its config would add).
function reason(s: ImportedService, c: Clash, tInvented: boolean): string {
  const e = c.entry;
  const hasPort = (r: ParsedRule): boolean => r.dports!.some((p) => p.first === e.first && p.last === e.last);
  const atVip = s.listeners.filter((r) => r.vip!.text === c.vip);
  const first = atVip.find((r) => r.proto === c.proto) ?? atVip.find(hasPort) ?? atVip[0]!;
  const from = [first];
  if (first.proto !== c.proto && !hasPort(first)) {
    const both = s.listeners.find((r) => r.proto === c.proto && hasPort(r));
    if (both !== undefined) from.push(both);
    else
      from.push(
        s.listeners.find((r) => r.proto === c.proto)!,
        s.listeners.find(hasPort)!,
      );
  } else if (first.proto !== c.proto) from.push(s.listeners.find((r) => r.proto === c.proto)!);
  else from.push(s.listeners.find(hasPort)!);
  const rules = from.map(
    (r) => `${r.vip!.text} ${r.proto} port ${r.dports!.map(portRangeText).join(',')} (${r.file}:${r.line})`,
  );
  const list = rules.length === 2 ? rules.join(' and ') : `${rules.slice(0, -1).join(', ')} and ${rules.at(-1)}`;
  const t = c.taken;
  const other = tInvented
    ? `a listener service ${t.service} would get the same way (${t.file}:${t.line})`
    : `the listener of service ${t.service} (${t.file}:${t.line})`;
  return (
    `service ${s.name}: listeners ${list}: a config's protocols and ports apply to every VIP of the service, each ` +
    `protocol with each port, so it would also listen on ${c.vip} ${c.proto} port ${e.text}, which overlaps ${other}`
  );
}
