import type { Diagnostic } from '../../common/diagnostic.js';
import { endpointText } from '../../model/address.js';
import { keyPath } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// A service needs at least one backend, and each backend endpoint may appear only once.
export const backendList: Rule = ({ model }) => {
  const out: Diagnostic[] = [];
  for (const s of model.services) {
    if (s.backends.length === 0) {
      out.push(
        error(
          `${s.path}/backends`,
          'service.no-backends',
          'expected at least one backend (use state: down to take one out)',
        ),
      );
    }
    const seen = new Map<string, string>();
    for (const b of s.backends) {
      const key = endpointText(b.address, b.port);
      const prev = seen.get(key);
      if (prev !== undefined)
        out.push(error(b.path, 'backend.duplicate', `backend ${key} is already listed at ${keyPath(prev)}`));
      else seen.set(key, b.path);
    }
  }
  return out;
};
