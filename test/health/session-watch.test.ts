// health --watch's nft -i session under health-ops' shared-state locking: every incremental update goes through the
// session while the watch holds the apply lock (after refresh() took what other processes changed), so an override
// `nftlb backend` made meanwhile is carried by the watch's next update; while another process holds the lock, nothing
// goes to the kernel, and the update follows once the lock is free.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ProbeResult } from '../../src/health/probe-types.js';
import type { RoundDeps, RoundReport } from '../../src/health/round.js';
import { healthStateFile } from '../../src/health/state-file.js';
import { watch } from '../../src/health/watch.js';
import { overrideBackend } from '../../src/ops/backend.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

const CONFIG = `table: sw
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: tcp, interval: 0.2, timeout: 0.1, rise: 1, fall: 1 }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4 }
`;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`gave up waiting for ${what}`);
}

test('health --watch: updates through its nft -i session under the lock, carrying the overrides of nftlb backend', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-sw-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'nftlb.yaml');
  await writeFile(config, CONFIG);
  const exec = new FakeSystem();
  exec.sessions = true;
  const lockFile = join(dir, 'apply.lock');
  const host = exec.host(dir, { lockFile });
  const alive = new Map<string, boolean>();
  const deps: RoundDeps = {
    host,
    lockWaitSeconds: 0,
    probe: async (_c, target): Promise<ProbeResult> => {
      const ok = alive.get(target.address.text) !== false;
      return { ok, reason: ok ? 'connected' : 'ECONNREFUSED', ms: 1 };
    },
    now: () => new Date(),
    stateFile: healthStateFile(dir, 'sw'),
    warn: (m) => t.log(m),
  };
  const reports: RoundReport[] = [];
  const errors: unknown[] = [];
  const w = watch(
    deps,
    modelOf(CONFIG),
    (r) => reports.push(r),
    (e) => errors.push(e),
  );
  t.teardown(() => (w.stop(), w.done));
  await until(() => reports.some((r) => r.sync.action === 'full'), 'the first load');
  const lastSession = (): string => exec.sessionTransactions.at(-1)?.script ?? '';

  // An override by another process (nft -f under its own lock), then a health change in the same service: the watch
  // takes the override under the lock before it plans, and its update through the session keeps the backend out.
  await overrideBackend(host, {
    config,
    action: 'drain',
    service: 'web',
    address: { family: 4, text: '198.51.100.3' },
    port: undefined,
    waitSeconds: 5,
  });
  await until(() => reports.some((r) => (r.overrides ?? []).length > 0), 'the watch to pick up the override');
  alive.set('198.51.100.2', false);
  await until(() => /ct mark set numgen random mod 1 offset 3$/m.test(lastSession()), 'the update through the session');
  t.true(
    exec.sessionTransactions.length > 0 && exec.sessionTransactions.every((x) => x.locked && x.ok),
    'every session transaction committed while the watch held the lock',
  );
  t.false(
    exec
      .loads()
      .some(
        (s) =>
          /ct mark set numgen random mod 1 offset 3$/m.test(s) && !exec.sessionTransactions.some((x) => x.script === s),
      ),
    'not sent with nft -f',
  );

  // Another process holds the lock: nothing goes to the kernel (the sync fails with lock-busy and is tried again);
  // once the lock is free, the pending change follows through the session.
  const sent = exec.sessionTransactions.length;
  exec.heldLocks.add(lockFile);
  alive.set('198.51.100.2', true);
  await until(() => errors.length > 0, 'a sync refused for the lock');
  t.is(exec.sessionTransactions.length, sent, 'no update while another process holds the lock');
  exec.heldLocks.delete(lockFile);
  await until(() => /numgen inc mod 2 offset/.test(lastSession()), 'the update once the lock is free');
  t.true(exec.sessionTransactions.every((x) => x.locked));
  t.regex(String(errors[0]), /another nftlb apply holds/);
  w.stop();
  await w.done;
});
