import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Limit keys this nftlb version accepts in the schema but does not enforce: refused, so a config never silently
// promises a limit the ruleset does not apply.
export const limits: Rule = ({ raw }) =>
  raw.services.flatMap((rs, i): Diagnostic[] => {
    const path = `/services/${i}`;
    const out: Diagnostic[] = [];
    if (rs['rate-limit'] !== undefined) {
      out.push(error(`${path}/rate-limit`, 'limits.unsupported', 'rate-limit is not enforced by this nftlb version; remove it'));
    }
    if (rs['limit-overflow'] !== undefined) {
      out.push(error(`${path}/limit-overflow`, 'limits.unsupported', 'limit-overflow is not enforced by this nftlb version; remove it'));
    }
    rs.backends.forEach((rb, j) => {
      if (rb['max-connections'] !== undefined) {
        out.push(error(`${path}/backends/${j}/max-connections`, 'limits.unsupported', 'max-connections is not enforced by this nftlb version; remove it'));
      }
    });
    return out;
  });
