import { rangeText } from '../model/address.js';
import type { Plan, PlannedService } from '../plan/types.js';

// A service as the operator sees it: what `status` reports and `diff` compares (config terms, no slots).
export interface ServiceView {
  readonly name: string;
  readonly vips: readonly string[];
  readonly protocols: readonly string[];
  /** "80", "8000-8010". */
  readonly ports: readonly string[];
  readonly scheduler: string;
  /** "masquerade", "none", "snat 198.51.100.1" ("none" for DSR). */
  readonly nat: string;
  /** "nat", or "dsr <interface>" (direct server return). Optional: records of older versions lack it. */
  readonly forwarding?: string;
  readonly onEmpty: string;
  /** "timeout 300s, key saddr, netmask 24/64, size 65536"; absent without persistence. */
  readonly persistence?: string;
  /** "10/second, kernel log level info", "100/minute, nflog group 5"; absent when the service logs nothing. */
  readonly log?: string;
  readonly backends: readonly BackendView[];
}

// A backend as the operator sees it; id is the ct mark its new connections get in the live table.
export interface BackendView {
  readonly id: number;
  readonly endpoint: string;
  readonly weight: number;
  readonly state: string;
}

/** What names a service to the operator: its listeners, scheduler and forwarding (what status shows of it). */
export type ListenerView = Pick<ServiceView, 'name' | 'vips' | 'protocols' | 'ports' | 'scheduler'> & {
  readonly forwarding: string;
};

// A service's listeners, scheduler and forwarding in config terms.
export function listenerView(s: PlannedService): ListenerView {
  return {
    name: s.name,
    vips: s.pools.flatMap((pool) => pool.vips.map((v) => v.text)),
    protocols: [...s.protocols],
    ports: s.ports.map((r) => rangeText(r.first, r.last)),
    scheduler: s.scheduler,
    forwarding: s.dsr === undefined ? 'nat' : `dsr ${s.dsr.interface}`,
  };
}

// The operator's view of a plan; deterministic, JSON-serializable (it is also stored after each apply, see state.ts).
export function viewOf(p: Plan): ServiceView[] {
  return p.services.map((s) => ({
    ...listenerView(s),
    nat:
      s.dsr !== undefined
        ? 'none'
        : s.nat.kind === 'snat'
          ? `snat ${s.nat.addresses.map((a) => a.text).join(' ')}`
          : s.nat.kind,
    onEmpty: s.onEmpty,
    ...(s.persistence === undefined
      ? {}
      : {
          persistence: `timeout ${s.persistence.timeout}s, key ${s.persistence.key}, netmask ${s.persistence.netmask4}/${s.persistence.netmask6}, size ${s.persistence.size}`,
        }),
    ...(s.log === undefined
      ? {}
      : {
          log: `${s.log.rate}/${s.log.unit}, ${s.log.to.kind === 'kernel' ? `kernel log level ${s.log.to.level}` : `nflog group ${s.log.to.group}`}`,
        }),
    backends: s.backends.map((b) => ({ id: b.id, endpoint: b.endpoint, weight: b.weight, state: b.state })),
  }));
}

// The forward filter as the operator reads it: "policy drop, accept 198.51.100.0/24, 2001:db8:3::/48", or "none".
export function forwardView(p: Plan): string {
  if (p.forward === undefined) return 'none';
  const accept = p.forward.accept.map((x) => x.text).join(', ');
  return `policy drop, accept ${accept === '' ? 'nothing else' : accept}`;
}
