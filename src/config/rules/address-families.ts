import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// IPv4 VIPs are balanced to IPv4 backends and IPv6 to IPv6: every family used on one side needs the other side too.
export const addressFamilies: Rule = ({ model }) => {
  const out: Diagnostic[] = [];
  for (const s of model.services) {
    const vipFams = new Set(s.vips.map((v) => v.family));
    const beFams = new Set(s.backends.map((b) => b.address.family));
    for (const fam of vipFams) {
      if (s.backends.length > 0 && !beFams.has(fam)) {
        out.push(error(`${s.path}/backends`, 'family.no-backend', `VIP family IPv${fam} has no IPv${fam} backend`));
      }
    }
    for (const b of s.backends) {
      if (!vipFams.has(b.address.family)) {
        out.push(
          error(
            `${b.path}/address`,
            'family.mismatch',
            `IPv${b.address.family} backend ${b.address.text} but the service has no IPv${b.address.family} VIP`,
          ),
        );
      }
    }
    if (s.nat.kind === 'snat') {
      const snatFams = s.nat.addresses.map((a) => a.family);
      if (new Set(snatFams).size !== snatFams.length) {
        out.push(error(`${s.path}/nat/snat`, 'nat.snat-family', 'expected at most one snat address per family'));
      }
      for (const fam of vipFams) {
        if (!snatFams.includes(fam)) {
          out.push(
            error(
              `${s.path}/nat/snat`,
              'nat.snat-family',
              `expected an IPv${fam} snat address for the IPv${fam} VIP(s)`,
            ),
          );
        }
      }
    }
  }
  return out;
};
