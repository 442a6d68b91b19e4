import { keyPath } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Service names become chain names and status keys, so each must be unique.
export const uniqueNames: Rule = ({ model }) => {
  const first = new Map<string, string>();
  return model.services.flatMap((s) => {
    const prev = first.get(s.name);
    if (prev === undefined) {
      first.set(s.name, s.path);
      return [];
    }
    return [
      error(`${s.path}/name`, 'service.duplicate-name', `service name "${s.name}" is already used at ${keyPath(prev)}`),
    ];
  });
};
