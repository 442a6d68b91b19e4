import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { plan, replan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';
import { changedServices, modelArb, overlayArb } from './random-config.js';

// A model with two random overlays that share their on-empty keep sets (as nftlb health's current and loaded ones do).
const twoOverlays = modelArb.chain((m) =>
  fc
    .tuple(overlayArb(m), overlayArb(m), fc.array(fc.nat(), { maxLength: 3 }))
    .map(([a, b, extra]) => ({ m, a, b: { ...b, lastKnown: a.lastKnown }, extra })),
);

test('property: replanning the services whose verdicts changed gives plan() of the new verdicts', (t) => {
  let differing = 0;
  fc.assert(
    fc.property(twoOverlays, ({ m, a, b, extra }) => {
      const changed = changedServices(m, a, b);
      const prev = plan(m, a);
      const next = replan(prev, m, b, changed);
      const expected = plan(m, b);
      deepStrictEqual(next, expected);
      if (JSON.stringify(prev) !== JSON.stringify(expected)) differing++;
      // Replanning more services than needed changes nothing either.
      const more = [...new Set([...changed, ...extra.map((x) => x % m.services.length)])];
      deepStrictEqual(replan(prev, m, b, more), expected);
      // The others are the very objects of the previous plan.
      next.services.forEach((s, i) => {
        if (!changed.includes(i)) strictEqual(s, prev.services[i]);
      });
    }),
    { numRuns: 300 },
  );
  t.log(`${differing} of 300 cases changed the plan`);
  t.true(differing > 100);
});

test('property: replan keeps the ids and slot ranges of the previous plan', (t) => {
  fc.assert(
    fc.property(twoOverlays, ({ m, a, b }) => {
      const next = replan(
        plan(m, a),
        m,
        b,
        m.services.map((_, i) => i),
      );
      const fresh = plan(m);
      next.services.forEach((s, i) => {
        const f = fresh.services[i]!;
        deepStrictEqual(
          s.backends.map((x) => x.id),
          f.backends.map((x) => x.id),
        );
        deepStrictEqual(
          s.pools.map((p) => [p.slotBase, p.capacity]),
          f.pools.map((p) => [p.slotBase, p.capacity]),
        );
      });
    }),
    { numRuns: 100 },
  );
  t.pass();
});

test('replan refuses a plan of another model', (t) => {
  const m = modelOf(`
services:
  - { name: a, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }
  - { name: b, vip: 203.0.113.2, port: 80, backends: [{ address: 198.51.100.3 }] }
`);
  const p = plan(m);
  t.throws(() => replan(p, { ...m, services: m.services.slice(0, 1) }, { health: new Map() }, [0]), {
    message: /another model/,
  });
  t.throws(() => replan(p, { ...m, services: [m.services[1]!, m.services[0]!] }, { health: new Map() }, [0]), {
    message: /another model/,
  });
});
