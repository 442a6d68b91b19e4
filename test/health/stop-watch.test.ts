// Stopping health --watch (SIGTERM from a service manager): the checks in flight are neither waited for nor taken as
// verdicts, and a check program ended from outside (systemd signals the whole unit) is no verdict either.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { ProbeResult } from '../../src/health/probe-types.js';
import type { RoundDeps, RoundReport } from '../../src/health/round.js';
import { healthStateFile, readHealthState } from '../../src/health/state-file.js';
import { recordResults } from '../../src/health/records.js';
import { checkTargets } from '../../src/health/targets.js';
import { watch } from '../../src/health/watch.js';
import { plan } from '../../src/plan/plan.js';
import { runCheckProgram } from '../../src/system/executor.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

const CONFIG = `table: st
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: tcp, interval: 0.2, timeout: 0.1, rise: 1, fall: 1 }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
`;

async function setup(t: ExecutionContext, probe: RoundDeps['probe']) {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-st-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exec = new FakeSystem();
  const deps: RoundDeps = {
    host: exec.host(dir, { lockFile: join(dir, 'apply.lock') }),
    lockWaitSeconds: 5,
    probe,
    now: () => new Date(),
    stateFile: healthStateFile(dir, 'st'),
    warn: (m) => t.log(m),
  };
  return { exec, deps };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`gave up waiting for ${what}`);
}

test('stop() ends the watch without waiting for the checks in flight, and takes no verdict from them', async (t) => {
  let rounds = 0;
  let hang = false;
  const never = new Promise<ProbeResult>(() => undefined);
  const { exec, deps } = await setup(t, async () => {
    rounds++;
    // After the first round every check hangs, as an exec check does for its whole timeout: then stop comes.
    return hang ? never : { ok: true, reason: 'connected', ms: 1 };
  });
  const reports: RoundReport[] = [];
  const w = watch(
    deps,
    modelOf(CONFIG),
    (r) => reports.push(r),
    (e) => t.fail(String(e)),
  );
  await until(() => reports.length > 0, 'the first load');
  hang = true;
  const hungFrom = rounds;
  await until(() => rounds > hungFrom, 'a check in flight');
  const loads = exec.loads().length;
  w.stop();
  await w.done;
  t.is(exec.loads().length, loads, 'no update after the stop');
  const state = await readHealthState(deps.stateFile, 'st', () => undefined);
  t.deepEqual(
    Object.values(state.backends).map((b) => b.state),
    ['up', 'up'],
    'the verdicts of the last full round',
  );
});

test('a check program ended by a signal from outside is no verdict; one nftlb ends at its timeout is a failure', async (t) => {
  const term = await runCheckProgram(['sh', '-c', 'kill -TERM $$'], process.env, 5000);
  t.like(term, { ok: false, inconclusive: true });
  t.regex(term.reason, /ended by SIGTERM from outside nftlb/);
  const slow = await runCheckProgram(['sleep', '5'], process.env, 100);
  t.like(slow, { ok: false, reason: 'timeout after 100 ms' });
  t.is(slow.inconclusive, undefined);
  // No verdict keeps the record as it was: no transition either way.
  const m = modelOf(CONFIG);
  const targets = checkTargets(m, plan(m));
  const empty = { backends: {} } as unknown as Parameters<typeof recordResults>[0];
  const up = recordResults(
    empty,
    targets,
    targets.map(() => ({ ok: true, reason: 'connected', ms: 1 })),
    new Date(),
  );
  const after = recordResults(
    up.state,
    targets,
    targets.map(() => ({ ok: false, reason: term.reason, ms: 1, inconclusive: true as const })),
    new Date(),
  );
  t.deepEqual(after.transitions, []);
  t.deepEqual(after.state.backends, up.state.backends);
});
