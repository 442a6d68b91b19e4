import type { Diagnostic } from '../../common/diagnostic.js';
import { endpointText } from '../../model/address.js';
import { keyPath } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// A service needs at least one backend, and each backend endpoint may appear only once.
export const backendList: Rule = ({ model }) => {
  const out: Diagnostic[] = [];
  for (let si = 0; si < model.services.length; si++) {
    const s = model.services[si]!;
    if (s.backends.length === 0) {
      out.push(
        error(
          `${s.path}/backends`,
          'service.no-backends',
          'expected at least one backend (use state: down to take one out)',
        ),
      );
    }
    // Most services have a handful of backends: comparing pairs beats building a key string and a Map per service.
    const bs = s.backends;
    const seen = bs.length > 16 ? new Map<string, string>() : undefined;
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i]!;
      let prev: string | undefined;
      if (seen === undefined) {
        for (let j = 0; j < i && prev === undefined; j++)
          if (bs[j]!.address.text === b.address.text && bs[j]!.port === b.port) prev = bs[j]!.path;
      } else {
        const key = endpointText(b.address, b.port);
        prev = seen.get(key);
        if (prev === undefined) seen.set(key, b.path);
      }
      if (prev !== undefined)
        out.push(
          error(
            b.path,
            'backend.duplicate',
            `backend ${endpointText(b.address, b.port)} is already listed at ${keyPath(prev)}`,
          ),
        );
    }
  }
  return out;
};
