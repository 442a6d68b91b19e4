import { keyPath, type Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Service names become chain names and status keys, so each must be unique.
export const uniqueNames: Rule = ({ model }) => {
  const first = new Map<string, string>();
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const prev = first.get(s.name);
    if (prev === undefined) first.set(s.name, s.path);
    else
      out.push(
        error(
          `${s.path}/name`,
          'service.duplicate-name',
          `service name "${s.name}" is already used at ${keyPath(prev)}`,
        ),
      );
  }
  return out;
};
