import { rangeText } from '../../model/address.js';
import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Two services (or one twice) listening on the same VIP, protocol and port would shadow each other.
// Plain index loops: this runs once per process over 50k services, mostly before the JIT has optimized it, where every
// closure, entries() pair and for-of iterator costs.
export const listenerOverlap: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  const taken = new TakenListeners();
  const services = model.services;
  for (let si = 0; si < services.length; si++) {
    const s = services[si]!;
    const vips = s.vips;
    for (let i = 0; i < vips.length; i++) {
      const vip = vips[i]!.text;
      let seen = false;
      for (let k = 0; k < i && !seen; k++) seen = vips[k]!.text === vip;
      if (seen) {
        const vipPath = Array.isArray(raw.services[si]?.vip) ? `${s.path}/vip/${i}` : `${s.path}/vip`;
        out.push(error(vipPath, 'service.duplicate-vip', `VIP ${vip} is listed twice`));
        continue;
      }
      for (let b = 0; b < s.protocols.length; b++) {
        const proto = s.protocols[b]!;
        for (let c = 0; c < s.ports.length; c++) {
          const p = s.ports[c]!;
          const clash = taken.firstOverlap(vip, proto, p.first, p.last);
          if (clash !== undefined) {
            const range = rangeText(p.first, p.last);
            const who = clash === s.name ? 'another port entry of this service' : `service "${clash}"`;
            out.push(
              error(`${s.path}/port`, 'service.listener-overlap', `${vip} ${proto} port ${range} overlaps ${who}`),
            );
          } else {
            taken.add(vip, proto, p.first, p.last, s.name);
          }
        }
      }
    }
  }
  return out;
};

// The listeners of one VIP and protocol: single ports by port, ranges in a list, each as its sequence number.
type Slot = { readonly singles: Map<number, number>; readonly ranges: number[] };

// Listeners taken so far, indexed by VIP and protocol (single ports by port), so the check stays linear at 50k services.
// Taken entries never overlap each other; when a new range overlaps several, the one added first is reported. A taken
// listener is its sequence number, an index into parallel arrays: no object per listener.
class TakenListeners {
  // By protocol, then VIP: two lookups and no key string per listener.
  private readonly byKey = new Map<string, Map<string, Slot>>();
  private readonly firsts: number[] = [];
  private readonly lasts: number[] = [];
  private readonly owners: string[] = [];

  add(vip: string, proto: string, first: number, last: number, owner: string): void {
    let byVip = this.byKey.get(proto);
    if (byVip === undefined) this.byKey.set(proto, (byVip = new Map()));
    let slot = byVip.get(vip);
    if (slot === undefined) byVip.set(vip, (slot = { singles: new Map(), ranges: [] }));
    const seq = this.owners.length;
    this.firsts.push(first);
    this.lasts.push(last);
    this.owners.push(owner);
    if (first === last) slot.singles.set(first, seq);
    else slot.ranges.push(seq);
  }

  // The owner of the first-added listener that overlaps first..last, if any.
  firstOverlap(vip: string, proto: string, first: number, last: number): string | undefined {
    const slot = this.byKey.get(proto)?.get(vip);
    if (slot === undefined) return undefined;
    let best = -1;
    for (let i = 0; i < slot.ranges.length; i++) {
      const t = slot.ranges[i]!;
      if ((best < 0 || t < best) && this.overlaps(t, first, last)) best = t;
    }
    if (last - first + 1 <= slot.singles.size) {
      for (let port = first; port <= last; port++) {
        const t = slot.singles.get(port);
        if (t !== undefined && (best < 0 || t < best)) best = t;
      }
    } else {
      for (const t of slot.singles.values()) if ((best < 0 || t < best) && this.overlaps(t, first, last)) best = t;
    }
    return best < 0 ? undefined : this.owners[best];
  }

  private overlaps(t: number, first: number, last: number): boolean {
    return first <= this.lasts[t]! && this.firsts[t]! <= last;
  }
}
