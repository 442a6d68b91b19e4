import type { Diagnostic } from '../../common/diagnostic.js';
import type { Service } from '../../model/types.js';
import { VIP_PROBE_PORTS } from '../../plan/types.js';
import type { RawService } from '../schema.js';
import { error, type Rule } from './rule.js';

// forwarding: dsr sends each packet on by itself, with no conntrack and no NAT on the balancer. So the choice must be a
// flow hash (the same backend for every packet of a flow), the backend must listen on the VIP's own port, and nothing
// that counts connections or rewrites addresses applies. `interface` goes with dsr and only with it.
export const dsr: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  // VIP-path probes by VIP . port . source port (the key of the netdev table's probe map), to find two that collide.
  const probes = new Map<string, string>();
  let nextId = 1;
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const r = raw.services[i];
    const firstId = nextId;
    nextId += s.backends.length;
    if (r === undefined) continue;
    out.push(...vipTargets(s, r, firstId, probes));
    if (s.dsr === undefined) {
      if (r.interface !== undefined)
        out.push(
          error(
            `${s.path}/interface`,
            'dsr.interface-unused',
            'interface applies to forwarding: dsr only (NAT services route to their backends)',
          ),
        );
      continue;
    }
    if (r.interface === undefined)
      out.push(
        error(
          `${s.path}/forwarding`,
          'dsr.interface',
          'forwarding: dsr needs "interface": the balancer\'s interface on the backends\' L2 segment',
        ),
      );
    const kind = s.scheduler.kind;
    if (kind !== 'source-hash' && kind !== 'maglev')
      out.push(
        error(
          r.scheduler === undefined ? `${s.path}/forwarding` : `${s.path}/scheduler`,
          'dsr.scheduler',
          `forwarding: dsr needs scheduler source-hash or maglev (an explicit-seed hash of each packet's flow); ${
            kind === 'symmetric-hash'
              ? "symmetric-hash uses the kernel's per-boot key, so a reboot or another balancer node sends a flow elsewhere"
              : `${kind} picks per packet without conntrack and would scatter a TCP connection over backends`
          }`,
        ),
      );
    if (r.nat !== undefined)
      out.push(
        error(
          `${s.path}/nat`,
          'dsr.nat',
          'nat has no effect with forwarding: dsr: the backend sees the client and answers it directly; remove "nat"',
        ),
      );
    if (r['on-down'] === 'reset')
      out.push(
        error(
          `${s.path}/on-down`,
          'dsr.on-down',
          'on-down: reset deletes conntrack entries, and forwarding: dsr keeps none on the balancer; remove it',
        ),
      );
    // Both work on conntrack and the ct mark (an entry per client that maps to a backend tag; a log rule keyed by the
    // mark a new connection gets): a DSR service has neither, so they would be accepted and do nothing.
    if (r.persistence !== undefined)
      out.push(
        error(
          `${s.path}/persistence`,
          'dsr.persistence',
          'persistence keeps clients on a backend through conntrack, which forwarding: dsr does without: source-hash or maglev on saddr already sends a client to the same backend; remove it',
        ),
      );
    if (r.log !== undefined)
      out.push(
        error(
          `${s.path}/log`,
          'dsr.log',
          'log writes a line per new connection, which forwarding: dsr does not track (it sees packets, not connections); remove it',
        ),
      );
    for (const key of ['rate-limit', 'limit-overflow'] as const) {
      if (r[key] !== undefined)
        out.push(
          error(
            `${s.path}/${key}`,
            'dsr.conntrack-limit',
            `${key} counts connections, which forwarding: dsr cannot tell from other packets without conntrack; remove it`,
          ),
        );
    }
    const only = s.ports.length === 1 ? s.ports[0]! : undefined;
    const port = only !== undefined && only.first === only.last ? only.first : undefined;
    for (const b of s.backends) {
      if (b.port !== undefined && port !== undefined && b.port !== port)
        out.push(
          error(
            `${b.path}/port`,
            'dsr.backend-port',
            `forwarding: dsr does not translate ports: the backend must listen on the service port ${port}, got ${b.port}`,
          ),
        );
      if (b.maxConnections !== undefined)
        out.push(
          error(
            `${b.path}/max-connections`,
            'dsr.conntrack-limit',
            'max-connections counts connections, which forwarding: dsr cannot see without conntrack; remove it',
          ),
        );
    }
  }
  return out;
};

// Health checks with `target: vip`: DSR only, a socket check with a port, and a probe key of their own.
function vipTargets(s: Service, r: RawService, firstId: number, probes: Map<string, string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const serviceWide = r.health?.target === 'vip';
  const only = s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last ? s.ports[0]!.first : undefined;
  let reported = false;
  s.backends.forEach((b, j) => {
    const h = b.health;
    if (h?.target !== 'vip') return;
    const where =
      r.backends[j]?.health?.target === 'vip' || !serviceWide ? `${b.path}/health/target` : `${s.path}/health/target`;
    const once = (d: Diagnostic): void => {
      if (where === `${s.path}/health/target`) {
        if (reported) return;
        reported = true;
      }
      out.push(d);
    };
    if (s.dsr === undefined)
      return once(
        error(
          where,
          'dsr.health-target',
          'target: vip probes the VIP through a DSR backend; this service uses NAT (remove it)',
        ),
      );
    if (h.kind === 'exec')
      return once(
        error(
          where,
          'dsr.health-target',
          'target: vip needs a tcp, banner or http check (an exec check opens its own connections)',
        ),
      );
    const port = h.port ?? b.port ?? only;
    if (port === undefined)
      return once(
        error(where, 'dsr.health-target', 'target: vip needs a port to probe: health.port, or a single service port'),
      );
    const vip = s.vips.find((v) => v.family === b.address.family);
    if (vip === undefined) return;
    const sourcePort = VIP_PROBE_PORTS.first + ((firstId + j) % VIP_PROBE_PORTS.count);
    const key = `${vip.text} . ${port} . ${sourcePort}`;
    const other = probes.get(key);
    if (other !== undefined)
      out.push(
        error(
          `${b.path}/health/target`,
          'dsr.health-target',
          `its VIP probe (${vip.text} port ${port}) would share source port ${sourcePort} with ${other}; use health.port to probe another port`,
        ),
      );
    else probes.set(key, `${s.name} backend ${b.address.text}`);
  });
  return out;
}
