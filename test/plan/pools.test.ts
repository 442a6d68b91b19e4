import { deepStrictEqual } from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import type { Family, Service } from '../../src/model/types.js';
import { maglevTable } from '../../src/plan/maglev.js';
import { plan, poolKey, backendKey, type HealthOverlay } from '../../src/plan/plan.js';
import type { PlannedBackend, Selector } from '../../src/plan/types.js';
import { contiguousSequence, reduceWeights, smoothWeightedSequence } from '../../src/plan/weights.js';
import { modelOf } from '../support/model.js';
import { modelArb, overlayArb } from './random-config.js';

// The pools of a service as the plan defines them, written the long way (filters, index sequences, then ids): plan()
// takes shortcuts for the common pool (every backend up, equal weights) and must agree with this on every pool.
function referencePool(
  s: Service,
  family: Family,
  backends: readonly PlannedBackend[],
  overlay: HealthOverlay | undefined,
): { selector: Selector | null; slots: number[]; capacity: number; kept: boolean } {
  const all = backends.filter((b) => b.address.family === family);
  const healthy = (b: PlannedBackend): boolean => b.health !== 'down' && b.full !== true;
  // The operator's override puts a backend down or draining unless the config has it further out already.
  const rank = { up: 0, backup: 0, drain: 1, down: 2 } as const;
  const state = (b: PlannedBackend): PlannedBackend['state'] =>
    b.override !== undefined && rank[b.override] > rank[b.state] ? b.override : b.state;
  const primaries = all.filter((b) => state(b) === 'up' && healthy(b));
  const backups = all.filter((b) => state(b) === 'backup' && healthy(b));
  const weight = primaries.reduce((a, b) => a + b.weight, 0);
  let chosen = primaries.length === 0 || weight < s.quorum ? [...primaries, ...backups] : primaries;
  let kept = false;
  if (chosen.length === 0 && s.onEmpty === 'keep') {
    const last = new Set(overlay?.lastKnown?.get(poolKey(s.name, family)) ?? []);
    const eligible = all.filter((b) => state(b) === 'up' || state(b) === 'backup');
    const known = eligible.filter((b) => last.has(backendKey(s.name, b.endpoint)));
    const ups = eligible.filter((b) => state(b) === 'up');
    chosen = known.length > 0 ? known : ups.length > 0 ? ups : eligible;
    kept = known.length > 0 || eligible.length > 0;
  }
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const sc = s.scheduler;
  const capacity =
    all.length <= 1 ? all.length : sc.kind === 'maglev' ? sc.tableSize : sum(reduceWeights(all.map((b) => b.weight)));
  if (chosen.length === 0) return { selector: null, slots: [], capacity, kept };
  if (chosen.length === 1) return { selector: { kind: 'constant' }, slots: [chosen[0]!.id], capacity, kept };
  const weights = chosen.map((b) => b.weight);
  const ids = (seq: ArrayLike<number>): number[] => Array.from(seq, (i) => chosen[i]!.id);
  switch (sc.kind) {
    case 'round-robin': {
      const slots = ids(smoothWeightedSequence(weights));
      return { selector: { kind: 'numgen', mode: 'inc', mod: slots.length }, slots, capacity, kept };
    }
    case 'random': {
      const slots = ids(contiguousSequence(weights));
      return { selector: { kind: 'numgen', mode: 'random', mod: slots.length }, slots, capacity, kept };
    }
    case 'source-hash': {
      const slots = ids(contiguousSequence(weights));
      const selector: Selector = { kind: 'jhash', fields: sc.fields, seed: sc.seed, mod: slots.length };
      return { selector, slots, capacity, kept };
    }
    case 'symmetric-hash': {
      const slots = ids(contiguousSequence(weights));
      return { selector: { kind: 'symhash', mod: slots.length }, slots, capacity, kept };
    }
    case 'maglev': {
      const table = (bs: readonly PlannedBackend[]): number[] =>
        Array.from(
          maglevTable(
            bs.map((b) => ({ key: b.endpoint, weight: b.weight })),
            sc.tableSize,
          ),
          (i) => bs[i]!.id,
        );
      const selector: Selector = { kind: 'jhash', fields: sc.fields, seed: sc.seed, mod: sc.tableSize };
      const reduced = table(chosen);
      // DSR: the table of every non-backup backend and every chosen backup, where a slot of a backend out of
      // selection takes the owner the table of the chosen ones gives it.
      const base = all.filter((b) => b.state !== 'backup' || chosen.some((c) => c.id === b.id));
      if (s.dsr === undefined || base.length === 0) return { selector, slots: reduced, capacity, kept };
      const ok = new Set(chosen.map((b) => b.id));
      const slots = table(base).map((id, j) => (ok.has(id) ? id : reduced[j]!));
      return { selector, slots, capacity, kept };
    }
  }
}

const modelAndOverlay = modelArb.chain((m) =>
  fc.tuple(fc.constant(m), fc.option(overlayArb(m), { nil: undefined, freq: 3 })),
);

test('property: every pool of plan() is the pool the long way gives (selector, slots, capacity, kept)', (t) => {
  let pools = 0;
  fc.assert(
    fc.property(modelAndOverlay, ([m, overlay]) => {
      const p = plan(m, overlay);
      p.services.forEach((ps, i) => {
        const s = m.services[i]!;
        const families = ([4, 6] as const).filter((f) => s.vips.some((v) => v.family === f));
        deepStrictEqual(
          ps.pools.map((pool) => pool.family),
          families,
        );
        for (const pool of ps.pools) {
          const { selector, slots, capacity, kept } = pool;
          deepStrictEqual({ selector, slots, capacity, kept }, referencePool(s, pool.family, ps.backends, overlay));
          deepStrictEqual(
            pool.vips,
            s.vips.filter((v) => v.family === pool.family),
          );
          pools++;
        }
      });
    }),
    { numRuns: 400 },
  );
  t.true(pools > 1000, `${pools} pools checked`);
});

test('equal weights and every backend up: one slot per backend in config order, with every scheduler', (t) => {
  for (const scheduler of ['round-robin', 'random', 'source-hash', 'symmetric-hash']) {
    const m = modelOf(`
services:
  - name: a
    vip: 203.0.113.1
    port: 80
    scheduler: ${scheduler}
    backends: [{ address: 198.51.100.2, weight: 3 }, { address: 198.51.100.3, weight: 3 }, { address: 198.51.100.4, weight: 3 }]
`);
    const pool = plan(m).services[0]!.pools[0]!;
    t.deepEqual(pool.slots, [1, 2, 3], scheduler);
    t.is(pool.capacity, 3, scheduler);
    t.is(pool.selector?.kind === 'constant' ? 0 : (pool.selector?.mod ?? 0), 3, scheduler);
  }
});
