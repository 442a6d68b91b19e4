import { rangeText } from '../../model/address.js';
import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Two services (or one twice) listening on the same VIP, protocol and port would shadow each other.
export const listenerOverlap: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  const taken = new TakenListeners();
  for (const [si, s] of model.services.entries()) {
    s.vips.forEach((vip, i) => {
      if (s.vips.findIndex((v) => v.text === vip.text) < i) {
        const vipPath = Array.isArray(raw.services[si]?.vip) ? `${s.path}/vip/${i}` : `${s.path}/vip`;
        out.push(error(vipPath, 'service.duplicate-vip', `VIP ${vip.text} is listed twice`));
        return;
      }
      for (const proto of s.protocols) {
        for (const p of s.ports) {
          const clash = taken.firstOverlap(vip.text, proto, p.first, p.last);
          if (clash) {
            const range = rangeText(p.first, p.last);
            const who = clash.owner === s.name ? 'another port entry of this service' : `service "${clash.owner}"`;
            out.push(
              error(`${s.path}/port`, 'service.listener-overlap', `${vip.text} ${proto} port ${range} overlaps ${who}`),
            );
          } else {
            taken.add(vip.text, proto, p.first, p.last, s.name);
          }
        }
      }
    });
  }
  return out;
};

type Taken = { readonly first: number; readonly last: number; readonly owner: string; readonly seq: number };

// Listeners taken so far, indexed by VIP and protocol (single ports by port), so the check stays linear at 50k services.
// Taken entries never overlap each other; when a new range overlaps several, the one added first is reported.
class TakenListeners {
  // By protocol, then VIP: two lookups and no key string per listener.
  private readonly byKey = new Map<string, Map<string, { singles: Map<number, Taken>; ranges: Taken[] }>>();
  private seq = 0;

  add(vip: string, proto: string, first: number, last: number, owner: string): void {
    let byVip = this.byKey.get(proto);
    if (byVip === undefined) this.byKey.set(proto, (byVip = new Map()));
    let slot = byVip.get(vip);
    if (slot === undefined) byVip.set(vip, (slot = { singles: new Map(), ranges: [] }));
    const t = { first, last, owner, seq: this.seq++ };
    if (first === last) slot.singles.set(first, t);
    else slot.ranges.push(t);
  }

  firstOverlap(vip: string, proto: string, first: number, last: number): Taken | undefined {
    const slot = this.byKey.get(proto)?.get(vip);
    if (slot === undefined) return undefined;
    let best: Taken | undefined;
    const consider = (t: Taken | undefined): void => {
      if (t !== undefined && first <= t.last && t.first <= last && (best === undefined || t.seq < best.seq)) best = t;
    };
    for (const t of slot.ranges) consider(t);
    if (last - first + 1 <= slot.singles.size)
      for (let port = first; port <= last; port++) consider(slot.singles.get(port));
    else for (const t of slot.singles.values()) consider(t);
    return best;
  }
}
