import type { Plan, PlannedService } from '../plan/types.js';
import type { Chain, Element, Rule, SetView } from './ast.js';
import { ident, type Ident } from './names.js';
import { element, renderVerdict } from './render.js';

// Logging of new connections (README.md, Logging and tracing). The backend is known only once the ct mark holds its id,
// in the shared `pick` chain just before the DNAT: there one rule looks the id up in `log_services` (an interval map:
// each logging service's id range -> jump to its log chain). A service's log chain returns when the service is over
// its rate, else logs with a prefix naming the service and the backend (one rule per backend: nft writes a prefix as
// is). The nat hook sees only the first packet of a connection, so each line is one new connection, whatever the
// protocol; the kernel adds the packet (client, VIP, ports) after the prefix. Services without `log` add nothing, so a
// table without logging is what it was before logging existed.

/** The verdict map from backend id ranges to the log chains. */
export const LOG_MAP = ident('log_services');

/** Burst of the rate limit (nft's default): a few lines beyond the rate when connections come in a burst. */
const LOG_BURST = 5;

// The log chain of a service: `log_<name>` (service names are identifiers, so this is one too).
export function logChain(service: string): Ident {
  return ident(`log_${service}`);
}

// The prefix of a service's lines for one backend: `nftlb service=web backend=198.51.100.2:8080 `, key=value like the
// fields the kernel writes after it (SRC=, DST=, DPT=), so a reader greps and splits one way.
export function logPrefix(service: string, endpoint: string): string {
  return `nftlb service=${service} backend=${endpoint} `;
}

const logging = (p: Plan): PlannedService[] => p.services.filter((s) => s.log !== undefined && s.backends.length > 0);

// The map; none when no service logs.
export function logSets(p: Plan): SetView[] {
  const services = logging(p);
  if (services.length === 0) return [];
  // Made as the render reaches them, like every per-service part (src/nft/build.ts, tableView).
  const elements: Iterable<Element> = {
    *[Symbol.iterator]() {
      for (const s of services)
        yield element(
          `${s.backends[0]!.id}-${s.backends[s.backends.length - 1]!.id}`,
          renderVerdict({ kind: 'jump', chain: logChain(s.name) }),
        );
    },
  };
  return [{ kind: 'map', name: LOG_MAP, key: ['mark'], value: 'verdict', flags: ['interval'], elements }];
}

// The rule `pick` runs before its DNAT; none when no service logs.
export function logPickRules(p: Plan): Rule[] {
  if (logging(p).length === 0) return [];
  return [{ stmts: [{ kind: 'vmap', key: { kind: 'field', field: 'ct mark' }, map: LOG_MAP }] }];
}

// One log chain per logging service, each made as it is reached.
export function* logChains(p: Plan): Generator<Chain> {
  for (const s of logging(p)) {
    const log = s.log!;
    const rules: Rule[] = [
      {
        stmts: [
          { kind: 'limit-over-per', rate: log.rate, unit: log.unit, burst: LOG_BURST },
          { kind: 'verdict', verdict: { kind: 'return' } },
        ],
      },
      ...s.backends.map((b): Rule => ({
        stmts: [
          { kind: 'match', left: { kind: 'field', field: 'ct mark' }, right: { kind: 'number', value: b.id } },
          { kind: 'log', prefix: logPrefix(s.name, b.endpoint), to: log.to },
        ],
      })),
    ];
    yield { name: logChain(s.name), rules };
  }
}
