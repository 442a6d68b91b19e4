import type { Diagnostic } from '../../common/diagnostic.js';
import { MAX_PERSISTENT_BACKENDS } from '../../plan/persistence.js';
import { error, warning, type Rule } from './rule.js';

// Persistence keys that relate to the rest of the service: a netmask for a family the service has no VIP of does
// nothing; a tag per backend bounds the backends; an IPv6 entry's key has no room
// for the VIP.
export const persistenceOptions: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const p = raw.services[i]?.persistence;
    if (p === undefined || s.persistence === undefined) continue;
    const path = `${s.path}/persistence`;
    let v4 = 0;
    let v6 = 0;
    for (const vip of s.vips)
      if (vip.family === 4) v4++;
      else v6++;
    if (p.netmask !== undefined && v4 === 0)
      out.push(
        warning(
          `${path}/netmask`,
          'persistence.netmask-unused',
          'netmask groups IPv4 clients; the service has no IPv4 VIP',
        ),
      );
    if (p.netmask6 !== undefined && v6 === 0)
      out.push(
        warning(
          `${path}/netmask6`,
          'persistence.netmask-unused',
          'netmask6 groups IPv6 clients; the service has no IPv6 VIP',
        ),
      );
    if (s.backends.length > MAX_PERSISTENT_BACKENDS)
      out.push(
        error(
          path,
          'persistence.backends',
          `a service with persistence may have at most ${MAX_PERSISTENT_BACKENDS} backends, got ${s.backends.length}`,
        ),
      );
    if (s.persistence.key === 'saddr-daddr' && v6 > 1)
      out.push(
        error(
          `${path}/key`,
          'persistence.key',
          `key saddr-daddr with ${v6} IPv6 VIPs: an IPv6 entry has room for the service and the client prefix only (nft 1.0.6 writes at most 16 bytes of a dynamic map key); use key saddr, or one IPv6 VIP per service`,
        ),
      );
  }
  return out;
};
