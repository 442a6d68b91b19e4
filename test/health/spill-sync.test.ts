// limit-overflow spill through sync(): a full backend leaves its pool in an incremental update (its connections are
// not reset, it is not down), comes back the same way, and nftlb apply keeps it out while it is full.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadedOverlay, emptyState, type HealthState } from '../../src/health/state-file.js';
import { plan } from '../../src/plan/plan.js';
import { fullChanges, sync, type SyncDeps } from '../../src/health/sync.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

const m = modelOf(`
table: hc
services:
  - name: web
    vip: 203.0.113.10
    port: 80
    on-down: reset
    limit-overflow: spill
    backends:
      - { address: 198.51.100.2, max-connections: 2 }
      - { address: 198.51.100.3, max-connections: 2 }
      - { address: 198.51.100.4 }
  - name: other
    vip: 203.0.113.11
    port: 80
    backends:
      - { address: 198.51.100.5, max-connections: 2 }
`);

const FULL = 'web/198.51.100.2:80';

test('a full backend leaves the pool incrementally and returns the same way; nothing is reset', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-spill-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exec = new FakeSystem();
  const deps: SyncDeps = { host: exec.host(dir, { lockFile: join(dir, 'l') }), lockWaitSeconds: 0 };
  const first = await sync(deps, m, emptyState('hc'));
  t.is(first.action, 'full');
  t.deepEqual(first.plan.services[0]!.pools[0]!.slots, [1, 2, 3]);
  const full: HealthState = { ...first.state, full: { [FULL]: true } };
  t.deepEqual(fullChanges(m, full), { keys: [FULL], changed: [0] });
  const out = await sync(deps, m, full, first.cache, [FULL]);
  t.is(out.action, 'incremental');
  t.deepEqual(out.services, ['web']);
  t.deepEqual(out.reset, [], 'a full backend keeps its connections');
  t.deepEqual(
    out.plan.services[0]!.backends.map((b) => b.full === true),
    [true, false, false],
  );
  t.deepEqual(out.plan.services[0]!.pools[0]!.slots, [2, 3]);
  t.deepEqual(out.state.loaded.full, { [FULL]: true });
  const script = exec.calls.filter((c) => c.cmd === 'nft').at(-1)!.input ?? '';
  // The web pool's chain now picks between the other two backends (ids 2 and 3: offset 2); nothing else changes.
  t.regex(script, /svc_web_v4/);
  t.regex(script, /numgen inc mod 2 offset 2$/m);
  t.notRegex(script, /svc_other/);
  t.false(exec.calls.some((c) => c.cmd === 'conntrack'));
  // nftlb apply of the same config plans with the loaded record: the full backend stays out.
  t.deepEqual(plan(m, loadedOverlay(out.state)).services[0]!.pools[0]!.slots, [2, 3]);
  // Room again: back in, incrementally.
  const room = await sync(deps, m, { ...out.state, full: {} }, out.cache, [FULL]);
  t.is(room.action, 'incremental');
  t.deepEqual(room.state.loaded.full, undefined);
  t.deepEqual(room.plan.services[0]!.pools[0]!.slots, [1, 2, 3]);
});

test('full flags of a service without spill, or of no backend in the config, change nothing', async (t) => {
  const s: HealthState = { ...emptyState('hc'), full: { 'other/198.51.100.5:80': true, 'gone/198.51.100.9:80': true } };
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-spill-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exec = new FakeSystem();
  const deps: SyncDeps = { host: exec.host(dir, { lockFile: join(dir, 'l') }), lockWaitSeconds: 0 };
  const out = await sync(deps, m, s);
  t.true(out.plan.services.every((x) => x.backends.every((b) => b.full !== true)));
});

test('every primary full: the backup takes the new connections; a full backup does not', (t) => {
  const withBackup = modelOf(`
table: hc
services:
  - name: web
    vip: 203.0.113.10
    port: 80
    limit-overflow: spill
    backends:
      - { address: 198.51.100.2, max-connections: 2 }
      - { address: 198.51.100.3, max-connections: 2, state: backup }
`);
  const slots = (full: string[]): readonly number[] =>
    plan(withBackup, { health: new Map(), full: new Map(full.map((k) => [k, true] as const)) }).services[0]!.pools[0]!
      .slots;
  t.deepEqual(slots([]), [1]);
  t.deepEqual(slots(['web/198.51.100.2:80']), [2]);
  t.deepEqual(
    slots(['web/198.51.100.2:80', 'web/198.51.100.3:80']),
    [],
    'all full: the pool is empty, on-empty decides',
  );
});
