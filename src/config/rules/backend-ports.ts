import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// A backend port rewrites one service port; with several service ports the connection must keep its port.
export const backendPorts: Rule = ({ model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    if (s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last) continue;
    for (const b of s.backends) {
      if (b.port === undefined) continue;
      out.push(
        error(
          `${b.path}/port`,
          'backend.port-with-range',
          'a backend port needs a single service port; with a port range or list, omit it and connections keep their destination port',
        ),
      );
    }
  }
  return out;
};
