import { error, type Rule } from './rule.js';

// A backend port rewrites one service port; with several service ports the connection must keep its port.
export const backendPorts: Rule = ({ model }) =>
  model.services.flatMap((s) => {
    const single = s.ports.length === 1 && s.ports[0]?.first === s.ports[0]?.last;
    if (single) return [];
    return s.backends
      .filter((b) => b.port !== undefined)
      .map((b) =>
        error(
          `${b.path}/port`,
          'backend.port-with-range',
          'a backend port needs a single service port; with a port range or list, omit it and connections keep their destination port',
        ),
      );
  });
