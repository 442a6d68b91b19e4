import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// forwarding: dsr sends each packet on by itself, with no conntrack and no NAT on the balancer. So the choice must be a
// flow hash (the same backend for every packet of a flow), the backend must listen on the VIP's own port, and nothing
// that counts connections or rewrites addresses applies. `interface` goes with dsr and only with it.
export const dsr: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const r = raw.services[i];
    if (r === undefined) continue;
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
