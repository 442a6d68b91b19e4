// Overrides and other processes: health --watch takes an override `nftlb backend` made while it runs (at its next turn,
// without reloading the table), keeps it through later health changes, and logs it; a state file another process
// marked pending is waited for, and not trusted when it stays pending.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { ProbeResult } from '../../src/health/probe-types.js';
import type { RoundDeps, RoundReport } from '../../src/health/round.js';
import { SharedState } from '../../src/health/shared-state.js';
import { healthStateFile, pendingMark, readHealthState, writeHealthState } from '../../src/health/state-file.js';
import { watch } from '../../src/health/watch.js';
import { overrideBackend } from '../../src/ops/backend.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

const CONFIG = `table: ow
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: tcp, interval: 0.2, timeout: 0.1, rise: 1, fall: 1 }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4 }
  - name: api
    vip: 203.0.113.2
    port: 80
    backends:
      - { address: 198.51.100.5 }
`;

async function setup(t: ExecutionContext) {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-ow-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'nftlb.yaml');
  await writeFile(config, CONFIG);
  const exec = new FakeSystem();
  const alive = new Map<string, boolean>();
  const host = exec.host(dir, { lockFile: join(dir, 'apply.lock') });
  const deps: RoundDeps = {
    host,
    lockWaitSeconds: 5,
    probe: async (_c, target): Promise<ProbeResult> => {
      const ok = alive.get(target.address.text) !== false;
      return { ok, reason: ok ? 'connected' : 'ECONNREFUSED', ms: 1 };
    },
    now: () => new Date(),
    stateFile: healthStateFile(dir, 'ow'),
    warn: (m) => t.log(m),
  };
  return { dir, config, exec, alive, host, deps };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`gave up waiting for ${what}`);
}

// The rule of web's chain as the last script that set it says.
const webRule = (exec: FakeSystem): string => {
  const scripts = exec.loads().filter((s) => /chain (inet ow )?svc_web_v4 \{/.test(s));
  return /chain (?:inet ow )?svc_web_v4 \{\n\s*([^\n]*)/.exec(scripts.at(-1) ?? '')?.[1] ?? '';
};

test('health --watch takes an override made while it runs, logs it, and keeps it through health changes', async (t) => {
  const { config, exec, alive, host, deps } = await setup(t);
  const model = modelOf(CONFIG);
  const reports: RoundReport[] = [];
  const errors: unknown[] = [];
  const w = watch(
    deps,
    model,
    (r) => reports.push(r),
    (e) => errors.push(e),
  );
  t.teardown(() => (w.stop(), w.done));
  await until(() => reports.some((r) => r.sync.action === 'full'), 'the first load');
  const loadsBefore = exec.loads().length;

  const out = await overrideBackend(host, {
    config,
    action: 'drain',
    service: 'web',
    address: { family: 4, text: '198.51.100.3' },
    port: undefined,
    waitSeconds: 5,
  });
  t.is(out.sync.action, 'incremental');
  t.is(webRule(exec), 'counter ct mark set numgen inc mod 2 offset 1048576');

  // The watch picks it up on its next turn: it logs it and takes the records the command left, so it reloads nothing.
  await until(() => reports.some((r) => (r.overrides ?? []).length > 0), 'the watch to pick up the override');
  const picked = reports.find((r) => (r.overrides ?? []).length > 0)!;
  t.deepEqual(picked.overrides, [{ key: 'web/198.51.100.3:80', from: null, to: 'drain' }]);
  t.is(picked.sync.action, 'none');
  t.is(exec.loads().filter((s) => s.includes('delete table')).length, 1, 'one full load: the first');

  // A health change in the same service: the incremental update keeps the drained backend out.
  alive.set('198.51.100.2', false);
  await until(() => reports.some((r) => r.transitions.some((x) => x.to === 'down')), 'the failure');
  await until(() => webRule(exec) === 'counter ct mark set numgen random mod 1 offset 3', 'the update');
  t.is(exec.loads().filter((s) => s.includes('delete table')).length, 1);
  t.true(exec.loads().length > loadsBefore);

  // undrain: the command brings it back; the watch logs the removal.
  await overrideBackend(host, {
    config,
    action: 'undrain',
    service: 'web',
    address: { family: 4, text: '198.51.100.3' },
    port: 80,
    waitSeconds: 5,
  });
  t.is(webRule(exec), 'counter ct mark set numgen inc mod 2 offset 2', 'backends 2 and 3: 1 is down');
  await until(
    () => reports.some((r) => (r.overrides ?? []).some((o) => o.to === null)),
    'the watch to pick up the removal',
  );
  w.stop();
  await w.done;
  t.deepEqual(errors, []);
  const st = await readHealthState(deps.stateFile, 'ow');
  t.is(st.loaded.overrides, undefined);
  t.is(st.loaded.health['web/198.51.100.2:80'], 'down');
});

test('a state file another process marked pending is waited for; one that stays pending is not trusted', async (t) => {
  const { deps } = await setup(t);
  const file = deps.stateFile;
  const shared = new SharedState(file, 'ow', () => undefined, false, 300);
  const recorded = {
    version: 3 as const,
    table: 'ow',
    live: { token: 'health_0000abcd', modelHash: 'ab' },
    loaded: { health: { 'web/198.51.100.2:80': 'down' as const }, lastKnown: {} },
    backends: {},
  };
  await writeHealthState(file, recorded);
  // A watch (another pid) loaded the table and will write its records in a moment.
  await writeFile(pendingMark(file), '999999999\n');
  setTimeout(() => void writeHealthState(file, { ...recorded, loaded: { health: {}, lastKnown: {} } }), 100);
  const settled = await shared.readSettled();
  t.deepEqual(settled.loaded.health, {}, 'the records written after the wait');
  t.deepEqual(settled.live, recorded.live);
  // A mark that stays: the records are not trusted, no live table is known (the next sync reloads in full).
  await writeFile(pendingMark(file), '999999999\n');
  const warned: string[] = [];
  const stale = await new SharedState(file, 'ow', (m) => warned.push(m), false, 200).readSettled();
  t.is(stale.live, null);
  t.regex(warned[0] ?? '', /stayed marked pending/);
  // This process's own mark is never waited for.
  await writeFile(pendingMark(file), `${process.pid}\n`);
  t.deepEqual((await shared.readSettled()).live, recorded.live);
});

test('refresh: the records another process wrote are taken, the own check records kept', async (t) => {
  const { deps } = await setup(t);
  const file = deps.stateFile;
  const shared = new SharedState(file, 'ow', () => undefined);
  const mine = await shared.read();
  const own = { ...mine, backends: { 'web/198.51.100.2:80': { ...FRESH_UP } } };
  // Nothing changed on disk: the state as given, with the overrides (none) read.
  const same = await shared.refresh(own);
  t.is(same.backends, own.backends);
  t.deepEqual(same.overrides, {});
  // Another process wrote: its live and loaded records are taken.
  await writeHealthState(file, {
    version: 3,
    table: 'ow',
    live: { token: 'health_0000abcd', modelHash: 'cd' },
    loaded: { health: {}, lastKnown: {}, overrides: { 'web/198.51.100.3:80': 'drain' } },
    backends: { 'web/198.51.100.2:80': { ...FRESH_UP, state: 'down' } },
  });
  const after = await shared.refresh(own);
  t.deepEqual(after.live, { token: 'health_0000abcd', modelHash: 'cd' });
  t.deepEqual(after.loaded.overrides, { 'web/198.51.100.3:80': 'drain' });
  t.is(after.backends, own.backends, 'its own check records');
});

const FRESH_UP = {
  state: 'up' as const,
  passes: 1,
  fails: 0,
  lastCheck: null,
  lastOk: true,
  reason: 'connected',
  since: null,
};

test('refresh in health --watch: an overrides file it cannot parse is reported, and the overrides the table holds kept', async (t) => {
  const { deps, dir } = await setup(t);
  const file = deps.stateFile;
  await writeHealthState(file, {
    version: 3,
    table: 'ow',
    live: null,
    loaded: { health: {}, lastKnown: {}, overrides: { 'web/198.51.100.3:80': 'drain' } },
    backends: {},
  });
  await writeFile(join(dir, 'overrides-ow.json'), '{ broken');
  const warned: string[] = [];
  const watching = new SharedState(file, 'ow', (m) => warned.push(m), true);
  const s = await watching.refresh(await watching.read());
  t.deepEqual(s.overrides, { 'web/198.51.100.3:80': 'drain' });
  t.regex(
    warned[0] ?? '',
    /cannot use the backend overrides .*overrides-ow\.json: .*; keeping the overrides known before/,
  );
  // Anyone else stops with the error.
  const once = new SharedState(file, 'ow', () => undefined);
  await t.throwsAsync(once.refresh(await once.read()), { message: /cannot use the backend overrides/ });
});
