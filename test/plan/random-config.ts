// fast-check arbitraries for plan-level properties: small valid configs (one or two address families per service,
// every scheduler, NAT and DSR forwarding, backend states, weights, health checks on some services, on-empty keep, quorum) and health overlays
// over their backends.
import fc from 'fast-check';
import { checkConfig } from '../../src/config/read.js';
import { endpointText } from '../../src/model/address.js';
import type { Model } from '../../src/model/types.js';
import { backendKey, poolKey } from '../../src/plan/plan.js';
import type { Override } from '../../src/plan/types.js';

const SCHEDULERS = ['round-robin', 'random', 'source-hash', 'symmetric-hash', 'maglev'] as const;

interface RawBackend {
  readonly v6: boolean;
  readonly weight: number;
  readonly state: 'up' | 'down' | 'drain' | 'backup';
}
export interface RawService {
  readonly families: 'v4' | 'v6' | 'both';
  readonly scheduler: (typeof SCHEDULERS)[number];
  readonly checked: boolean;
  readonly onEmpty: 'reject' | 'drop' | 'keep';
  readonly quorum: number;
  readonly onDown: 'keep' | 'reset';
  /** forwarding: dsr, when the scheduler hashes (DSR needs source-hash or maglev). */
  readonly dsr: boolean;
  readonly backends: readonly RawBackend[];
}

const backendArb = fc.record({
  v6: fc.boolean(),
  weight: fc.integer({ min: 1, max: 4 }),
  state: fc.constantFrom('up', 'up', 'up', 'backup', 'drain', 'down') as fc.Arbitrary<RawBackend['state']>,
});
/** One random service (see configText). */
export const serviceArb: fc.Arbitrary<RawService> = fc.record({
  families: fc.constantFrom('v4', 'v4', 'v6', 'both') as fc.Arbitrary<RawService['families']>,
  scheduler: fc.constantFrom(...SCHEDULERS),
  checked: fc.constantFrom(true, true, true, false),
  onEmpty: fc.constantFrom('reject', 'drop', 'keep') as fc.Arbitrary<RawService['onEmpty']>,
  quorum: fc.constantFrom(0, 0, 2, 3),
  onDown: fc.constantFrom('keep', 'reset') as fc.Arbitrary<RawService['onDown']>,
  dsr: fc.constantFrom(false, false, true),
  backends: fc.array(backendArb, { minLength: 1, maxLength: 5 }),
});

// The YAML of a config; each family of a service gets at least one backend, and backends follow the service's families.
export function configText(services: readonly RawService[]): string {
  const lines = ['table: hc', 'services:'];
  services.forEach((s, i) => {
    const v4 = s.families !== 'v6';
    const v6 = s.families !== 'v4';
    const vips = [...(v4 ? [`203.0.113.${i + 1}`] : []), ...(v6 ? [`"2001:db8:1::${i + 1}"`] : [])];
    const dsr = s.dsr && (s.scheduler === 'source-hash' || s.scheduler === 'maglev');
    lines.push(
      `  - name: s${i}`,
      `    vip: [${vips.join(', ')}]`,
      `    port: ${8000 + i}`,
      `    scheduler: ${s.scheduler}`,
      `    on-empty: ${s.onEmpty}`,
      `    on-down: ${dsr ? 'keep' : s.onDown}`,
    );
    // DSR services on two interfaces, so a config can have two fwd chains.
    if (dsr) lines.push('    forwarding: dsr', `    interface: eth${i % 2}`);
    if (s.scheduler === 'maglev') lines.push('    hash: { table-size: 31 }');
    if (s.quorum > 0) lines.push(`    quorum: ${s.quorum}`);
    if (s.checked) lines.push('    health: { type: tcp }');
    lines.push('    backends:');
    s.backends.forEach((b, j) => {
      // Dual stack: the first backend is IPv4, the second IPv6, the others either.
      const six = s.families === 'both' ? j > 0 && (j === 1 || b.v6) : v6;
      const address = six ? `"2001:db8:2::${i * 10 + j + 2}"` : `198.51.100.${i * 10 + j + 2}`;
      lines.push(`      - { address: ${address}, weight: ${b.weight}, state: ${b.state} }`);
    });
    // Dual stack with a single backend: add one of the other family.
    if (s.families === 'both' && s.backends.length === 1)
      lines.push(`      - { address: "2001:db8:2::${i * 10 + 9}" }`);
  });
  return `${lines.join('\n')}\n`;
}

/** A random valid model. */
export const modelArb: fc.Arbitrary<Model> = fc.array(serviceArb, { minLength: 1, maxLength: 6 }).map((services) => {
  const text = configText(services);
  const c = checkConfig('random.yaml', text);
  if (c.model === undefined)
    throw new Error(`${text}\n${c.diagnostics.map((d) => `${d.path}: ${d.message}`).join('\n')}`);
  return c.model;
});

/** Every backend key of a model, by service. */
export function backendKeys(m: Model): string[][] {
  return m.services.map((s) => {
    const single = s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last ? s.ports[0]!.first : undefined;
    return s.backends.map((b) => backendKey(s.name, endpointText(b.address, b.port ?? single)));
  });
}

/** Verdicts (up, down or none) for the backends of a model, and on-empty keep sets for its pools. */
export interface RandomOverlay {
  readonly health: Map<string, 'up' | 'down'>;
  readonly lastKnown: Map<string, string[]>;
  /** The operator's overrides (nftlb backend drain|down), on about one backend in six. */
  readonly override: Map<string, Override>;
}

// Random verdicts over the backends of m, and random last-known sets for each pool.
export function overlayArb(m: Model): fc.Arbitrary<RandomOverlay> {
  const keys = backendKeys(m).flat();
  const pools = m.services.flatMap((s, i) =>
    ([4, 6] as const)
      .filter((f) => s.vips.some((v) => v.family === f))
      .map((f) => ({
        key: poolKey(s.name, f),
        members: backendKeys(m)[i]!.filter((_, j) => s.backends[j]!.address.family === f),
      })),
  );
  return fc
    .tuple(
      fc.array(fc.constantFrom<'up' | 'down' | null>('up', 'down', null), {
        minLength: keys.length,
        maxLength: keys.length,
      }),
      fc.array(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), {
        minLength: pools.length,
        maxLength: pools.length,
      }),
      fc.array(fc.constantFrom<Override | null>(null, null, null, null, null, null, null, null, 'drain', 'down'), {
        minLength: keys.length,
        maxLength: keys.length,
      }),
    )
    .map(([verdicts, picks, overrides]) => ({
      health: new Map(keys.flatMap((k, i) => (verdicts[i] === null ? [] : [[k, verdicts[i]!] as const]))),
      lastKnown: new Map(pools.map((p, i) => [p.key, p.members.filter((_, j) => picks[i]![j] === true)])),
      override: new Map(keys.flatMap((k, i) => (overrides[i] === null ? [] : [[k, overrides[i]!] as const]))),
    }));
}

// Indexes of the services in which the two overlays give some backend a different verdict or override.
export function changedServices(m: Model, a: RandomOverlay, b: RandomOverlay): number[] {
  return backendKeys(m).flatMap((keys, i) =>
    keys.some((k) => a.health.get(k) !== b.health.get(k) || a.override.get(k) !== b.override.get(k)) ? [i] : [],
  );
}
