import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Limit keys the schema accepts but this nftlb version does not enforce are refused, so a config never silently
// promises a limit the ruleset does not apply. rate-limit and max-connections with limit-overflow reject are enforced
// (src/nft/build.ts); spill is not: nft cannot read a backend's ct count without adding the connection to it, so a
// spilled connection would also be counted against the full backend (README.md, Limits).
export const limits: Rule = ({ raw }) =>
  raw.services.flatMap((rs, i): Diagnostic[] =>
    rs['limit-overflow'] === 'spill'
      ? [
          error(
            `/services/${i}/limit-overflow`,
            'limits.unsupported',
            "limit-overflow spill is not enforced by this nftlb version (nft cannot test a backend's connection count without counting the connection against it); use reject",
          ),
        ]
      : [],
  );
