// The operator's overrides (nftlb backend drain|down) plan exactly as the config state they stand for.
import { deepStrictEqual } from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import type { Model } from '../../src/model/types.js';
import { effectiveState, plan } from '../../src/plan/plan.js';
import { backendKeys, modelArb, overlayArb } from './random-config.js';

test('effectiveState: an override takes a backend further out, never back in', (t) => {
  const cases = [
    ['up', undefined, 'up'],
    ['up', 'drain', 'drain'],
    ['up', 'down', 'down'],
    ['backup', 'drain', 'drain'],
    ['backup', 'down', 'down'],
    ['drain', 'drain', 'drain'],
    ['drain', 'down', 'down'],
    ['down', 'drain', 'down'],
    ['down', 'down', 'down'],
  ] as const;
  for (const [state, override, want] of cases)
    t.is(effectiveState({ state, ...(override === undefined ? {} : { override }) }), want, `${state} + ${override}`);
});

test('property: pools with an override are the pools of a config that sets that state', (t) => {
  let overridden = 0;
  fc.assert(
    fc.property(
      modelArb.chain((m) => fc.tuple(fc.constant(m), overlayArb(m))),
      ([m, o]) => {
        const keys = backendKeys(m);
        // The same model with each overridden backend's state set to what the override makes of it.
        const edited: Model = {
          ...m,
          services: m.services.map((s, i) => ({
            ...s,
            backends: s.backends.map((b, j) => {
              const override = o.override.get(keys[i]![j]!);
              return override === undefined ? b : { ...b, state: effectiveState({ state: b.state, override }) };
            }),
          })),
        };
        overridden += o.override.size;
        const a = plan(m, o);
        const b = plan(edited, { ...o, override: undefined });
        // A DSR Maglev pool keeps the table of the config's primaries (only out-of-selection backends give their
        // slots away, so no other flow moves): an override leaves that base as it is, where a config edit of the state
        // recomputes it. There the same backends must take the slots; elsewhere the pools are equal.
        const view = (p: typeof a) =>
          p.services.map((s, i) =>
            m.services[i]!.dsr !== undefined && m.services[i]!.scheduler.kind === 'maglev'
              ? s.pools.map((pool) => ({ ...pool, slots: [...new Set(pool.slots)].sort((x, y) => x - y) }))
              : s.pools,
          );
        deepStrictEqual(view(a), view(b));
        // Each planned backend carries its override, and only then.
        a.services.forEach((s, i) =>
          s.backends.forEach((pb, j) => deepStrictEqual(pb.override, o.override.get(keys[i]![j]!))),
        );
      },
    ),
    { numRuns: 300 },
  );
  t.true(overridden > 100, `${overridden} overrides`);
});
