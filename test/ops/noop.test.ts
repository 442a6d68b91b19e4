// apply's no-op record (src/ops/noop.ts): exit 9 only when the record of the last load proves nothing changed, and a
// load on every way the proof fails (the fake host counts transactions as the kernel's ruleset generation).
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { applyCommand } from '../../src/cli/apply.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import {
  advanceNoopRecord,
  judgeNoop,
  noopMiss,
  noopRecordFile,
  noopRecordKeeper,
  readNoopRecord,
  writeNoopRecord,
} from '../../src/ops/noop.js';
import { processStart } from '../../src/system/process.js';
import { fakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';
import { STATE_VERSION, writeHealthState, type HealthState } from '../../src/health/state-file.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

function setup() {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const env = { NFTLB_STATE_DIR: s.dir, NFTLB_LOCK: s.lock };
  const apply = (...args: string[]) => runCommand(applyCommand, ['-c', s.config, ...args], exec, env);
  const loads = () => exec.loads().length;
  return { s, exec, apply, loads };
}

test('a second apply of the same config is a no-op proven without nft; the record names what it compared', async (t) => {
  const { s, exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  t.is(loads(), 1);
  exec.calls.length = 0;
  t.deepEqual(await apply(), { code: EXIT.unchanged, stdout: '', stderr: '' });
  t.deepEqual(
    exec.calls.map((c) => c.cmd),
    ['perl'],
  );
  const record = JSON.parse(readFileSync(noopRecordFile(join(s.dir, 'run'), s.config), 'utf8')) as Record<
    string,
    unknown
  >;
  t.is(record['generation'], exec.generation);
  t.is(record['table'], 'nftlb');
});

test('a changed config is loaded; the same text written again (a new identity) is still a no-op', async (t) => {
  const { s, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  writeFileSync(s.config, CONFIG.replace('port: 8080', 'port: 8081'));
  t.is((await apply()).code, EXIT.ok);
  t.is(loads(), 2);
  writeFileSync(s.config, CONFIG.replace('port: 8080', 'port: 8081'));
  const old = new Date(Date.now() - 60_000);
  utimesSync(s.config, old, old);
  t.is((await apply()).code, EXIT.unchanged, 'the content is compared when the identity differs');
  t.is(loads(), 2);
});

test('a change of what apply plans with in the health state is a load; new check records alone are not', async (t) => {
  const { s, apply, loads } = setup();
  const state = join(s.dir, 'health-nftlb.json');
  const write = (health: Record<string, string>, backends: Record<string, unknown>) =>
    writeFileSync(
      state,
      JSON.stringify({ version: 3, table: 'nftlb', live: null, loaded: { health, lastKnown: {} }, backends }),
    );
  write({}, {});
  t.is((await apply()).code, EXIT.ok);
  write({}, { 'web/198.51.100.2:8080': { state: 'up', passes: 3, fails: 0 } });
  t.is((await apply()).code, EXIT.unchanged, 'check records changed, the verdicts apply plans with did not');
  write({ 'web/198.51.100.2:8080': 'down' }, {});
  t.is((await apply()).code, EXIT.ok);
  t.is(loads(), 2);
});

test('any transaction since the load (a hand edit, a replaced or deleted table) is a load', async (t) => {
  const { exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  // A hand edit: a transaction of someone else's, as `nft add element inet nftlb ...` is.
  exec.generation++;
  t.is((await apply()).code, EXIT.ok);
  t.is((await apply()).code, EXIT.unchanged);
  exec.setTable('inet', 'nftlb', { comment: 'nftlb fingerprint 0123456789abcdef0123456789abcdef' });
  t.is((await apply()).code, EXIT.ok, 'a table replaced by hand');
  exec.dropTable('inet', 'nftlb');
  t.is((await apply()).code, EXIT.ok, 'a table deleted by hand');
  t.is(loads(), 4);
});

test('a missing, unreadable or foreign record, perl failing and nft missing never give exit 9', async (t) => {
  const { s, exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  const file = noopRecordFile(join(s.dir, 'run'), s.config);
  const record = readFileSync(file, 'utf8');
  writeFileSync(file, 'not json');
  t.is((await apply()).code, EXIT.ok);
  writeFileSync(file, record.replace(/"nftlb":"[^"]+"/, '"nftlb":"0.0.1"'));
  t.is((await apply()).code, EXIT.ok, 'a record of another nftlb version');
  exec.perlDown = true;
  t.is((await apply()).code, EXIT.ok, 'no generation: no proof');
  t.is((await apply()).code, EXIT.ok, 'and no record written without one');
  exec.perlDown = false;
  t.is((await apply()).code, EXIT.ok);
  t.is((await apply()).code, EXIT.unchanged);
  // Another nft program (here: none at that path) is not the one the record names.
  const gone = join(s.dir, 'bin', 'nft');
  exec.missing.add(gone);
  const r = await runCommand(applyCommand, ['-c', s.config], exec, {
    NFTLB_STATE_DIR: s.dir,
    NFTLB_LOCK: s.lock,
    NFTLB_NFT: gone,
  });
  t.is(r.code, EXIT.toolMissing, r.stderr);
  t.is(loads(), 6);
});

test('a load that was not the only transaction (another commit meanwhile) writes no record', async (t) => {
  const { exec, apply, loads } = setup();
  exec.refuse = () => {
    exec.generation++;
    return undefined;
  };
  t.is((await apply()).code, EXIT.ok);
  exec.refuse = undefined;
  t.is((await apply()).code, EXIT.ok, 'nothing proves the table is what the first load made');
  t.is((await apply()).code, EXIT.unchanged);
  t.is(loads(), 2);
});

test('--force and --dry-run never take the record', async (t) => {
  const { apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  t.is((await apply('--force')).code, EXIT.ok);
  t.is((await apply('--dry-run')).code, EXIT.ok);
  t.is(loads(), 2);
});

test("the operator's overrides file is part of the proof: an override set by hand is loaded, the same file again is not", async (t) => {
  const { s, apply, loads } = setup();
  const file = join(s.dir, 'overrides-nftlb.json');
  const write = (backends: Record<string, unknown>) =>
    writeFileSync(file, JSON.stringify({ version: 1, table: 'nftlb', backends }));
  t.is((await apply()).code, EXIT.ok);
  write({ 'web/198.51.100.2:8080': { state: 'drain', since: '2024-01-01T00:00:00.000Z' } });
  t.is((await apply()).code, EXIT.ok, 'a drain the live table does not have yet');
  t.is((await apply()).code, EXIT.unchanged);
  // Rewritten with the same overrides (a new identity, a recent change time): compared by what the plan takes.
  write({ 'web/198.51.100.2:8080': { state: 'drain', since: '2024-02-02T00:00:00.000Z' } });
  t.is((await apply()).code, EXIT.unchanged, 'the time an override was set does not change the table');
  write({});
  t.is((await apply()).code, EXIT.ok, 'the override removed');
  writeFileSync(file, 'not json');
  const bad = await apply();
  t.is(bad.code, EXIT.hostFault, 'an overrides file nftlb cannot use is reported, never taken as unchanged');
  t.regex(bad.stderr, /cannot use the backend overrides/);
  t.is(loads(), 3);
});

test('a record made with another state directory proves nothing', async (t) => {
  const { s, exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  const other = join(s.dir, 'other-state');
  const r = await runCommand(applyCommand, ['-c', s.config], exec, { NFTLB_STATE_DIR: other, NFTLB_LOCK: s.lock });
  t.is(r.code, EXIT.ok, r.stderr);
  t.is(loads(), 2);
});

test("nftlb trace's own transactions carry the record: a running trace leaves the no-op proven, a dead one does not", async (t) => {
  const { s, exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  const host = exec.host(s.dir, { lockFile: s.lock });
  const me = { pid: process.pid, start: (await processStart(process.pid))! };
  // A trace's transaction: one more generation; the record follows it only when it was current before.
  const step = async (owner: typeof me | null, others = 0) => {
    const before = exec.generation;
    exec.generation += 1 + others;
    await advanceNoopRecord(host, s.config, before, exec.generation, { trace: owner });
  };
  await step(null);
  t.is((await apply()).code, EXIT.unchanged, 'after a probe (an empty chain added and deleted)');
  await step(me);
  t.is((await apply()).code, EXIT.unchanged, 'a running trace is left alone');
  t.deepEqual((await readNoopRecord(host, s.config))?.trace, me);
  await step(null);
  t.is((await apply()).code, EXIT.unchanged, 'after its rules went');
  await step(me, 1);
  t.is((await readNoopRecord(host, s.config))?.generation, exec.generation - 2, 'another transaction meanwhile');
  t.is((await apply()).code, EXIT.ok, 'so the next apply loads');
  t.is(loads(), 2);
  // A trace whose process is gone (same pid, another start time): not a no-op, neither on the fast path.
  await step({ pid: me.pid, start: me.start + 1 });
  const r = await readNoopRecord(host, s.config);
  t.is((await judgeNoop(host, s.config, r)).kind, 'dead-trace');
  t.regex((await noopMiss(host, s.config, r)) ?? '', /the rules of nftlb trace pid \d+ \(dead\)/);
});

test("nftlb health's transactions carry the record when they are the only ones, for the text it was made of", async (t) => {
  const { s, exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  const host = exec.host(s.dir, { lockFile: s.lock });
  const model = modelOf(CONFIG);
  const sha = (await readNoopRecord(host, s.config))!.config.sha256;
  const state = join(s.dir, 'health-nftlb.json');
  let verdict = 'down';
  // One sync of health: its transaction (one more generation, `others` besides), then its state (with the overrides
  // it synced with, none) written with a new verdict; the keeper is asked around it as the health round asks it. apply
  // then reads the file: the keeper's digest of the state in memory must be the one apply makes of the file.
  const sync = async (
    keeper: ReturnType<typeof noopRecordKeeper>,
    o: { others?: number; fingerprint?: string } = {},
  ): Promise<void> => {
    const before = await keeper.before(model);
    exec.generation += 1 + (o.others ?? 0);
    verdict = verdict === 'down' ? 'up' : 'down';
    const written: HealthState = {
      version: STATE_VERSION,
      table: 'nftlb',
      live: null,
      overrides: {},
      loaded: { health: { 'web/198.51.100.2:8080': verdict as 'up' | 'down' }, lastKnown: {} },
      backends: {},
    };
    await writeHealthState(state, written);
    const out = {
      action: 'incremental',
      state: written,
      ...(o.fingerprint === undefined ? {} : { fingerprint: o.fingerprint }),
    };
    await keeper.after(model, before, out as never);
  };
  const keeper = noopRecordKeeper(host, s.config, (m) => (m === model ? sha : undefined));
  await sync(keeper);
  t.is((await apply()).code, EXIT.unchanged, "after health's update");
  await sync(keeper, { fingerprint: 'f'.repeat(32) });
  t.is((await apply()).code, EXIT.unchanged, "after health's full reload");
  t.is((await readNoopRecord(host, s.config))?.fingerprint, 'f'.repeat(32), 'with its fingerprint');
  t.is(loads(), 1);

  await sync(keeper, { others: 1 });
  t.is((await apply()).code, EXIT.ok, 'another transaction meanwhile');
  await sync(noopRecordKeeper(host, s.config, () => 'other text'));
  t.is((await apply()).code, EXIT.ok, 'health planned from other text');
  const r = (await readNoopRecord(host, s.config))!;
  await writeNoopRecord(host, s.config, {
    ...r,
    trace: { pid: process.pid, start: (await processStart(process.pid))! },
  });
  await sync(noopRecordKeeper(host, s.config, () => r.config.sha256));
  t.is((await readNoopRecord(host, s.config))?.generation, r.generation, 'a trace in the table: not carried');
  t.is(loads(), 3);
});

test('a no-op that had to read a file writes the record again once the file is settled, so the next is by identity', async (t) => {
  const { s, exec, apply, loads } = setup();
  t.is((await apply()).code, EXIT.ok);
  const host = exec.host(s.dir, { lockFile: s.lock });
  // The config was written just before the load: its identity proves nothing yet (the sha256 is compared).
  t.false((await readNoopRecord(host, s.config))!.config.settled);
  t.is((await apply()).code, EXIT.unchanged);
  t.false((await readNoopRecord(host, s.config))!.config.settled, 'not settled yet: the record stays');
  // A change time more than 2 s old (the kernel's coarse clock): the identity is settled from then on.
  await new Promise((resolve) => setTimeout(resolve, 2100));
  t.is((await apply()).code, EXIT.unchanged);
  const r = (await readNoopRecord(host, s.config))!;
  t.true(r.config.settled);
  t.is(r.generation, exec.generation);
  t.is(loads(), 1);
  // And a changed config is still a load.
  writeFileSync(s.config, CONFIG.replace('port: 8080', 'port: 8081'));
  t.is((await apply()).code, EXIT.ok);
});

test('after a transaction of someone else, apply reads the generation once under the lock: the judgement read is its own', async (t) => {
  const { exec, apply } = setup();
  t.is((await apply()).code, EXIT.ok);
  exec.generation++;
  const from = exec.calls.length;
  t.is((await apply()).code, EXIT.ok);
  const calls = exec.calls.slice(from).map((c) => c.cmd);
  // perl (the record, before the lock), perl and nft (the generation and the cheap listing, meanwhile), then under the
  // lock: one perl (the record judged again), the load, and the perl of the generation after it.
  const locked = calls.indexOf('flock');
  t.true(locked > 0, calls.join(' '));
  t.deepEqual(calls.slice(locked), ['flock', 'perl', 'nft', 'perl'], calls.join(' '));
  t.is((await apply()).code, EXIT.unchanged, 'the record of that load proves the next apply');
});
