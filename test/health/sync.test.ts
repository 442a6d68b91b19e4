// sync() with and without its in-memory cache (health --watch keeps it between rounds; --once has none): the same
// verdicts must give the same nft scripts, outcomes and loaded state; with the cache, untouched services are not
// planned again.
import { deepStrictEqual, strictEqual } from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { FRESH, type HealthRecord } from '../../src/health/machine.js';
import { currentOverlay, emptyState, type HealthState } from '../../src/health/state-file.js';
import { modelHash, sync, verdictChanges, type SyncCache, type SyncDeps } from '../../src/health/sync.js';
import type { Model } from '../../src/model/types.js';
import type { Override } from '../../src/plan/types.js';
import { plan } from '../../src/plan/plan.js';
import { modelArb, overlayArb, type RandomOverlay } from '../plan/random-config.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

async function scratch(): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-sync-'));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

function depsWith(exec: FakeSystem, dir: string, name: string): SyncDeps {
  return { host: exec.host(dir, { lockFile: join(dir, `${name}.lock`) }), lockWaitSeconds: 0 };
}

// The state after a round whose checks give these verdicts (no verdict: unknown), with these overrides.
function withVerdicts(
  s: HealthState,
  health: ReadonlyMap<string, 'up' | 'down'>,
  overrides: ReadonlyMap<string, Override> = new Map(),
): HealthState {
  const backends: Record<string, HealthRecord> = {};
  for (const [k, v] of health) backends[k] = { ...FRESH, state: v };
  return { ...s, backends, overrides: Object.fromEntries(overrides) };
}

// nft and conntrack calls since `from`, with the random guard names made equal.
const callsSince = (exec: FakeSystem, from: number): string[] =>
  exec.calls
    .slice(from)
    .filter((c) => c.cmd !== 'flock')
    .map((c) => `${c.cmd} ${c.args.join(' ')}\n${(c.input ?? '').replace(/health_[0-9a-f]{8}/g, 'health_GUARD')}`);

const scenario = modelArb.chain((m) =>
  fc.tuple(
    fc.constant(m),
    fc.array(
      fc.tuple(
        overlayArb(m),
        fc.constantFrom('keep', 'keep', 'keep', 'replace', 'drop'),
        fc.constantFrom('none', 'exact', 'all'),
      ),
      { minLength: 1, maxLength: 6 },
    ),
  ),
);

test('property: with and without the cache, sync() sends the same scripts and reaches the same state', async (t) => {
  const { dir, done } = await scratch();
  t.teardown(done);
  let incremental = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async ([m, steps]: [Model, [RandomOverlay, string, string][]]) => {
      const a = new FakeSystem();
      const b = new FakeSystem();
      let sa = emptyState('hc');
      let sb = emptyState('hc');
      let cache: SyncCache | undefined;
      let previous = new Map<string, 'up' | 'down'>();
      for (const [o, table, hint] of steps) {
        if (table === 'replace') for (const x of [a, b]) x.setTable('inet', 'hc', { comment: 'nftlb fingerprint 00' });
        if (table === 'drop') for (const x of [a, b]) x.tables.delete('inet hc');
        const na = a.calls.length;
        const nb = b.calls.length;
        // What health --watch passes: the keys whose records changed since the last sync (or more).
        const keys = new Set([...previous.keys(), ...o.health.keys()]);
        const touched =
          hint === 'none'
            ? undefined
            : hint === 'all'
              ? keys
              : [...keys].filter((k) => previous.get(k) !== o.health.get(k));
        const ra = await sync(depsWith(a, dir, 'a'), m, withVerdicts(sa, o.health, o.override), cache, touched);
        const rb = await sync(depsWith(b, dir, 'b'), m, withVerdicts(sb, o.health, o.override));
        deepStrictEqual(callsSince(a, na), callsSince(b, nb));
        deepStrictEqual([ra.action, ra.why, ra.services, ra.reset], [rb.action, rb.why, rb.services, rb.reset]);
        deepStrictEqual(ra.state.loaded, rb.state.loaded);
        deepStrictEqual(ra.plan, rb.plan);
        // And both are plan() of the current verdicts.
        deepStrictEqual(ra.plan, plan(m, currentOverlay(withVerdicts(sb, o.health, o.override))));
        if (ra.action === 'incremental') incremental++;
        sa = ra.state;
        sb = rb.state;
        cache = ra.cache;
        previous = o.health;
      }
    }),
    { numRuns: 150 },
  );
  t.log(`${incremental} incremental updates compared`);
  t.true(incremental > 50);
});

const m = modelOf(`
table: hc
services:
${Array.from(
  { length: 20 },
  (_, i) => `  - name: s${i}
    vip: 203.0.113.${i + 1}
    port: 80
    on-down: reset
    health: { type: tcp }
    backends:
      - { address: 198.51.100.${2 * i + 2} }
      - { address: 198.51.100.${2 * i + 3} }
      - { address: 198.51.100.${2 * i + 100} }
`,
).join('')}`);

test('with the cache, a change in one service plans only that service', async (t) => {
  const { dir, done } = await scratch();
  t.teardown(done);
  const exec = new FakeSystem();
  const deps = depsWith(exec, dir, 'x');
  const first = await sync(deps, m, emptyState('hc'));
  t.is(first.action, 'full');
  const down = withVerdicts(first.state, new Map([['s7/198.51.100.17:80', 'down']]));
  const r = await sync(deps, m, { ...down, loaded: first.state.loaded }, first.cache);
  t.is(r.action, 'incremental');
  t.deepEqual(r.services, ['s7']);
  t.deepEqual(r.reset, [23]); // s7's second backend: ids 22, 23, 24
  r.plan.services.forEach((s, i) => (i === 7 ? t.not(s, first.plan.services[i]!) : t.is(s, first.plan.services[i]!)));
  t.is(r.cache.plan, r.plan);
  t.is(r.cache.loaded, r.state.loaded);
  // The script says so too: the guard, then only s7's chain.
  const script = exec.calls.at(-2)!.input ?? '';
  t.regex(script, /^flush chain inet hc health_[0-9a-f]{8}\nadd table inet hc\nflush chain inet hc svc_s7_v4\n/);
  t.notRegex(script, /svc_s(?!7_)/);
});

test('a cache of another model or of other loaded verdicts is ignored', async (t) => {
  const { dir, done } = await scratch();
  t.teardown(done);
  const exec = new FakeSystem();
  const deps = depsWith(exec, dir, 'x');
  const first = await sync(deps, m, emptyState('hc'));
  const down = withVerdicts(first.state, new Map([['s3/198.51.100.9:80', 'down']]));
  // A cache whose plan is wrong on purpose: all services down.
  const bogus: SyncCache = {
    ...first.cache,
    plan: plan(m, { health: { get: () => 'down' } }),
  };
  const sameModelOtherObject = { ...m };
  const r1 = await sync(deps, sameModelOtherObject, down, bogus);
  t.is(r1.action, 'incremental');
  t.deepEqual(r1.plan, plan(m, currentOverlay(down)));
  const r2 = await sync(deps, m, { ...down, loaded: { ...down.loaded } }, bogus);
  t.is(r2.action, 'incremental');
  t.deepEqual(r2.plan, plan(m, currentOverlay(down)));
});

test('verdictChanges: only services whose verdicts differ from the loaded ones; unknown counts as no verdict', (t) => {
  const loaded = {
    health: { 's1/198.51.100.4:80': 'down' as const, 's2/198.51.100.6:80': 'up' as const },
    lastKnown: {},
  };
  const st: HealthState = {
    ...emptyState('hc'),
    loaded,
    backends: {
      's1/198.51.100.4:80': { ...FRESH, state: 'down' },
      's5/198.51.100.12:80': { ...FRESH, state: 'up' },
      's2/198.51.100.6:80': FRESH,
      'gone/x': { ...FRESH, state: 'up' },
    },
  };
  const v = verdictChanges(m, st);
  t.deepEqual(v.changed, [2, 5]);
  t.deepEqual(
    [...v.diff],
    [
      ['s5/198.51.100.12:80', 'up'],
      ['gone/x', 'up'],
      ['s2/198.51.100.6:80', undefined],
    ],
  );
  // With the keys that may have changed: only those are compared.
  t.deepEqual(verdictChanges(m, st, ['s1/198.51.100.4:80', 's2/198.51.100.6:80']).changed, [2]);
  const same = verdictChanges(m, {
    ...st,
    backends: { 's1/198.51.100.4:80': { ...FRESH, state: 'down' }, 's2/198.51.100.6:80': { ...FRESH, state: 'up' } },
  });
  t.deepEqual(same.changed, []);
  t.is(same.diff.size, 0);
});

test('modelHash: computed once per model object; equal configs hash equal, health check tuning does not count', (t) => {
  const cfg = (interval: number, port: number): Model =>
    modelOf(`
table: hc
services:
  - { name: a, vip: 203.0.113.1, port: ${port}, health: { type: tcp, interval: ${interval} }, backends: [{ address: 198.51.100.2 }] }
`);
  strictEqual(modelHash(cfg(2, 80)), modelHash(cfg(2, 80)));
  strictEqual(modelHash(cfg(2, 80)), modelHash(cfg(5, 80)));
  t.not(modelHash(cfg(2, 80)), modelHash(cfg(2, 81)));
  const noCheck = modelOf(`
table: hc
services:
  - { name: a, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }
`);
  t.not(modelHash(noCheck), modelHash(cfg(2, 80)));
});
