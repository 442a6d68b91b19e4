import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ProbeResult } from '../../src/health/probe-types.js';
import { healthOnce, type RoundDeps } from '../../src/health/round.js';
import { healthStateFile, readHealthState } from '../../src/health/state-file.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

const model = modelOf(`
table: hc
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    on-down: reset
    health: { type: tcp, rise: 2, fall: 2 }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
  - name: dns
    vip: 203.0.113.2
    port: 53
    protocol: udp
    backends:
      - { address: 198.51.100.4 }
`);

// Deps with a fake kernel and a probe that answers from `alive` (address -> up?).
async function setup(t: import('ava').ExecutionContext) {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-health-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exec = new FakeSystem();
  const alive = new Map<string, boolean>([
    ['198.51.100.2', true],
    ['198.51.100.3', true],
  ]);
  const probed: string[] = [];
  const deps: RoundDeps = {
    host: exec.host(dir, { lockFile: join(dir, 'apply.lock') }),
    lockWaitSeconds: 0,
    probe: async (_check, target): Promise<ProbeResult> => {
      probed.push(`${target.address.text}:${target.port}`);
      const ok = alive.get(target.address.text) === true;
      return { ok, reason: ok ? 'connected' : 'ECONNREFUSED', ms: 1 };
    },
    now: () => new Date('2026-01-01T00:00:00Z'),
    stateFile: healthStateFile(dir, 'hc'),
    warn: (m) => t.log(m),
  };
  const loads = (): string[] =>
    exec.calls.filter((c) => c.cmd === 'nft' && c.args.join(' ') === '-f -').map((c) => c.input ?? '');
  return { dir, exec, alive, probed, deps, loads };
}

test('first run loads the whole table; then only membership changes reach nft, as incremental scripts', async (t) => {
  const { exec, alive, probed, deps, loads } = await setup(t);
  const r1 = await healthOnce(deps, model);
  t.is(r1.sync.action, 'full');
  t.deepEqual(probed, ['198.51.100.2:80', '198.51.100.3:80']);
  t.is(loads().length, 1);
  t.true(loads()[0]!.includes('delete table inet hc'));

  // Healthy and unchanged: probes run, nft only checks the guard chain (a cheap transaction that changes nothing).
  const guard = (await readHealthState(deps.stateFile, 'hc')).live!.token;
  const r2 = await healthOnce(deps, model);
  t.is(r2.sync.action, 'none');
  t.deepEqual(loads().slice(1), [`flush chain inet hc ${guard}\n`]);
  const updates = (): string[] => loads().filter((l) => l !== `flush chain inet hc ${guard}\n`);

  alive.set('198.51.100.2', false);
  const r3 = await healthOnce(deps, model);
  t.deepEqual(r3.transitions, []); // fall 2: one failure is not enough
  t.is(r3.sync.action, 'none');
  const r4 = await healthOnce(deps, model);
  t.deepEqual(
    r4.transitions.map((x) => `${x.endpoint} ${x.from}->${x.to}`),
    ['198.51.100.2:80 up->down'],
  );
  t.is(r4.sync.action, 'incremental');
  t.false(updates()[1]!.includes('delete table'));
  t.true(updates()[1]!.startsWith(`flush chain inet hc ${guard}\nadd table inet hc\nflush chain inet hc svc_web_v4\n`));
  // on-down reset: its connections (to web's VIP and port, answered from its address and port) are deleted.
  t.deepEqual(r4.sync.reset, [1]);
  t.deepEqual(
    exec.calls.filter((c) => c.cmd === 'conntrack').map((c) => c.args.join(' ')),
    ['-D -f ipv4 -p tcp --orig-dst 203.0.113.1 --reply-src 198.51.100.2 --orig-port-dst 80 --reply-port-src 80'],
  );

  alive.set('198.51.100.2', true);
  t.is((await healthOnce(deps, model)).sync.action, 'none');
  const back = await healthOnce(deps, model);
  t.deepEqual(
    back.transitions.map((x) => `${x.from}->${x.to}`),
    ['down->up'],
  );
  t.is(back.sync.action, 'incremental');
  t.is(updates().length, 3);
});

test('a full load adds an empty guard chain health_<hex> after the rendered table; incremental scripts flush it first', async (t) => {
  const { alive, deps, loads } = await setup(t);
  await healthOnce(deps, model);
  const token = (await readHealthState(deps.stateFile, 'hc')).live!.token;
  t.regex(token, /^health_[0-9a-f]{8}$/);
  const fullScript = loads()[0]!;
  // The rendered script unchanged (renderNftScript), then the guard, outside the table block.
  t.true(fullScript.endsWith(`\n}\nadd chain inet hc ${token}\n`));
  t.is(fullScript.match(/health_/g)?.length, 1);
  alive.set('198.51.100.2', false);
  await healthOnce(deps, model);
  const r = await healthOnce(deps, model);
  t.is(r.sync.action, 'incremental');
  t.is(loads().at(-1)!.split('\n')[0], `flush chain inet hc ${token}`);
  // Each full load makes a new guard.
  await writeFile(deps.stateFile, '{}');
  await healthOnce({ ...deps, warn: () => undefined }, model);
  const again = (await readHealthState(deps.stateFile, 'hc')).live!.token;
  t.not(again, token);
  t.true(loads().at(-1)!.endsWith(`add chain inet hc ${again}\n`));
});

test('the state file records checks and what the live table holds; a table replaced by someone else is reloaded', async (t) => {
  const { exec, alive, deps, loads } = await setup(t);
  alive.set('198.51.100.3', false);
  await healthOnce(deps, model);
  await healthOnce(deps, model);
  const state = await readHealthState(deps.stateFile, 'hc');
  t.is(state.backends['web/198.51.100.3:80']?.state, 'down');
  t.is(state.backends['web/198.51.100.3:80']?.reason, 'ECONNREFUSED');
  t.deepEqual(state.loaded.health, { 'web/198.51.100.3:80': 'down', 'web/198.51.100.2:80': 'up' });
  t.true(exec.tables.get('inet hc')?.chains.has(state.live!.token));
  t.regex(state.live!.modelHash, /^[0-9a-f]{64}$/);
  // `nftlb apply` (or anyone) replaces the table: the guard chain is gone, nft refuses the next script, and the round
  // reloads in full with the verdicts.
  exec.setTable('inet', 'hc', { comment: 'nftlb fingerprint 00' });
  const r = await healthOnce(deps, model);
  t.is(r.sync.action, 'full');
  t.is(r.sync.why, 'the table was replaced since the last health run');
  // The reload keeps the dead backend (id 2) out: the pool selects backend 1 directly, and no slot names backend 2.
  const last = loads()[loads().length - 1]!;
  t.regex(/chain svc_web_v4 \{[^}]*\}/.exec(last)?.[0] ?? '', /ct mark set numgen random mod 1 offset 1$/m);
  t.notRegex(/map slots \{[^}]*\}/.exec(last)?.[0] ?? '', /: 2\b/);
  const token = JSON.parse(await readFile(deps.stateFile, 'utf8')).live.token as string;
  t.not(token, state.live!.token);
  t.true(exec.tables.get('inet hc')?.chains.has(token));
});

test('a table deleted by someone else is loaded again in full, also while a backend changes', async (t) => {
  const { exec, alive, deps } = await setup(t);
  await healthOnce(deps, model);
  exec.tables.delete('inet hc');
  t.like((await healthOnce(deps, model)).sync, {
    action: 'full',
    why: 'the table was replaced since the last health run',
  });
  alive.set('198.51.100.2', false);
  t.is((await healthOnce(deps, model)).sync.action, 'none');
  exec.tables.delete('inet hc');
  const r = await healthOnce(deps, model);
  t.deepEqual(
    r.transitions.map((x) => `${x.endpoint} ${x.from}->${x.to}`),
    ['198.51.100.2:80 up->down'],
  );
  t.like(r.sync, { action: 'full', why: 'the table was replaced since the last health run' });
  t.true(exec.tables.has('inet hc'));
  const st = await readHealthState(deps.stateFile, 'hc');
  t.deepEqual(st.loaded.health, { 'web/198.51.100.2:80': 'down', 'web/198.51.100.3:80': 'up' });
});

test('a version 1 state file (live table recorded by kernel handle) keeps its checks and reloads the table in full', async (t) => {
  const { deps, alive, loads } = await setup(t);
  alive.set('198.51.100.3', false);
  const rec = (state: string, fails: number) => ({
    state,
    passes: 0,
    fails,
    lastCheck: '2026-01-01T00:00:00.000Z',
    lastOk: null,
    reason: 'ECONNREFUSED',
    since: '2026-01-01T00:00:00.000Z',
  });
  await writeFile(
    deps.stateFile,
    JSON.stringify({
      version: 1,
      table: 'hc',
      live: { handle: 7, planHash: 'ab'.repeat(32) },
      applied: { health: { 'web/198.51.100.3:80': 'down' }, lastKnown: {} },
      backends: { 'web/198.51.100.3:80': rec('down', 2) },
    }),
  );
  const warnings: string[] = [];
  const before = await readHealthState(deps.stateFile, 'hc', (m) => warnings.push(m));
  t.is(before.live, null);
  t.is(before.version, 3);
  t.deepEqual(before.loaded.health, { 'web/198.51.100.3:80': 'down' }, 'read from the old key `applied`');
  t.is(before.backends['web/198.51.100.3:80']?.fails, 2);
  const r = await healthOnce({ ...deps, warn: (m) => warnings.push(m) }, model);
  t.deepEqual(warnings, []);
  t.is(r.sync.action, 'full');
  t.is(r.sync.why, 'no table loaded by nftlb health yet');
  t.is(loads().length, 1);
  t.notRegex(/map slots \{[^}]*\}/.exec(loads()[0]!)?.[0] ?? '', /: 2\b/);
  const after = JSON.parse(await readFile(deps.stateFile, 'utf8'));
  t.is(after.version, 3);
  t.regex(after.live.token, /^health_[0-9a-f]{8}$/);
  t.is(after.live.handle, undefined);
});

test('a live record with a malformed guard name is not trusted: no table known, full reload', async (t) => {
  const { deps } = await setup(t);
  await healthOnce(deps, model);
  const st = JSON.parse(await readFile(deps.stateFile, 'utf8'));
  st.live.token = 'health_x; delete table inet hc';
  await writeFile(deps.stateFile, JSON.stringify(st));
  t.is((await readHealthState(deps.stateFile, 'hc')).live, null);
  t.is((await healthOnce(deps, model)).sync.action, 'full');
});

test('an incremental script nft refuses falls back to a full reload', async (t) => {
  const { exec, alive, deps, loads } = await setup(t);
  await healthOnce(deps, model);
  exec.refuse = (s) =>
    s.includes('flush chain inet hc svc_web_v4')
      ? 'Error: Could not process rule: No such file or directory'
      : undefined;
  alive.set('198.51.100.2', false);
  await healthOnce(deps, model);
  const r = await healthOnce(deps, model);
  t.is(r.sync.action, 'full');
  t.regex(r.sync.why, /incremental update refused/);
  t.is(loads().length, 4); // full, guard check, refused incremental, full
});

test('an unreadable state file is reported and replaced, not fatal', async (t) => {
  const { deps } = await setup(t);
  await writeFile(deps.stateFile, '{ not json');
  const warnings: string[] = [];
  const r = await healthOnce({ ...deps, warn: (m) => warnings.push(m) }, model);
  t.is(r.sync.action, 'full');
  t.regex(warnings[0] ?? '', /unreadable/);
  t.is((await readHealthState(deps.stateFile, 'hc')).version, 3);
});
