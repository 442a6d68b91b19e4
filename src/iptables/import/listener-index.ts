import type { PortRange } from '../../model/types.js';

// The listeners taken so far, by protocol and VIP, so that a rule whose VIP, protocol and ports overlap another
// service's listener (or another, different port entry of its own) is caught where it is read: iptables lets the first
// matching rule win, a config refuses the overlap. Single ports are indexed by port and ranges kept in a list, so the
// check stays linear for a host with tens of thousands of listeners.

/** A listener already taken: its ports, its service, the line it was read from. */
export interface TakenListener {
  readonly first: number;
  readonly last: number;
  readonly service: string;
  readonly file: string;
  readonly line: number;
}

// The listeners of one protocol and VIP. Most VIPs have one port: it is kept as `first`, and the map of single ports
// is made when a second one comes.
interface Slot {
  first: TakenListener | undefined;
  singles: Map<number, TakenListener> | undefined;
  readonly ranges: TakenListener[];
}

const intersects = (t: TakenListener, first: number, last: number): boolean => first <= t.last && t.first <= last;

// Listeners by protocol and VIP.
export class ListenerIndex {
  private readonly slots = new Map<string, Slot>();

  // The taken listener that a new port range of `service` would overlap: any other service's that intersects it, or
  // one of its own that intersects it without being the same range.
  clash(proto: string, vip: string, ports: PortRange, service: string): TakenListener | undefined {
    const slot = this.slots.get(`${proto} ${vip}`);
    if (slot === undefined) return undefined;
    const { first, last } = ports;
    const bad = (t: TakenListener): boolean =>
      intersects(t, first, last) && !(t.service === service && t.first === first && t.last === last);
    for (const t of slot.ranges) if (bad(t)) return t;
    const singles = slot.singles;
    if (singles === undefined) return slot.first !== undefined && bad(slot.first) ? slot.first : undefined;
    if (last - first + 1 <= singles.size) {
      for (let p = first; p <= last; p++) {
        const t = singles.get(p);
        if (t !== undefined && bad(t)) return t;
      }
    } else for (const t of singles.values()) if (bad(t)) return t;
    return undefined;
  }

  // Records a listener (a range already taken by the same service is not recorded twice).
  add(proto: string, vip: string, taken: TakenListener): void {
    const key = `${proto} ${vip}`;
    let slot = this.slots.get(key);
    if (slot === undefined) this.slots.set(key, (slot = { first: undefined, singles: undefined, ranges: [] }));
    if (taken.first === taken.last) {
      if (slot.first === undefined) slot.first = taken;
      else if (slot.first.first !== taken.first || slot.singles !== undefined) {
        slot.singles ??= new Map([[slot.first.first, slot.first]]);
        if (!slot.singles.has(taken.first)) slot.singles.set(taken.first, taken);
      }
    } else if (!slot.ranges.some((t) => t.first === taken.first && t.last === taken.last)) slot.ranges.push(taken);
  }
}
