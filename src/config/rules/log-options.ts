import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// A connection log goes to the kernel log at a level or to an NFLOG group, not both (nft refuses `log level ... group
// ...`: "level and group are mutually exclusive").
export const logOptions: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const l = raw.services[i]?.log;
    if (l?.level !== undefined && l.group !== undefined)
      out.push(
        error(
          `${model.services[i]!.path}/log/level`,
          'log.level-with-group',
          'level is for the kernel log; with group the lines go to NFLOG (ulogd2 sets its own level): give one of them',
        ),
      );
  }
  return out;
};
