import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { loadModel } from '../../src/system/config-file.js';
import { applyCommand } from '../../src/cli/apply.js';
import { removeCommand } from '../../src/cli/remove.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { fakeSystem, type FakeOptions } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

async function setup(state: FakeOptions = {}, config = CONFIG) {
  const s = scratch(config);
  const exec = fakeSystem(state);
  const script = renderNftScript(plan((await loadModel(scratch(CONFIG).config)).model));
  const apply = (...args: string[]) => runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, ...args], exec);
  return { s, exec, script, apply };
}

const nftCalls = (exec: ReturnType<typeof fakeSystem>) =>
  exec.calls.filter((c) => c.cmd === 'nft').map((c) => c.args.join(' '));
/** The scripts nft was given to commit (not the cheap listing, `-t -f -`). */
const loadCalls = (exec: ReturnType<typeof fakeSystem>) =>
  exec.calls.filter((c) => c.cmd === 'nft' && c.args.join(' ') === '-f -');

test('apply with no live table lists its tables cheaply, loads the script on stdin (no nft -c), exits 0 with one line', async (t) => {
  const { exec, script, apply } = await setup();
  const r = await apply();
  t.is(r.code, EXIT.ok);
  t.is(r.stdout, '');
  t.regex(r.stderr, new RegExp(`^nftlb: applied table inet nftlb: 2 services, fingerprint ${script.fingerprint}\\n$`));
  t.deepEqual(nftCalls(exec), ['-t -f -', '-f -']);
  t.is(
    exec.calls.find((c) => c.args.join(' ') === '-t -f -')?.input,
    'list chains inet\nlist sets inet\nlist maps inet\n\nlist chains netdev\nlist sets netdev\nlist maps netdev\n',
  );
  t.deepEqual(
    loadCalls(exec).map((c) => c.input),
    [script.text],
  );
  const lock = exec.calls.find((c) => c.cmd === 'flock');
  t.deepEqual(lock?.args.slice(0, 3), ['-n', '-E', '75']);
});

test('apply is silent and exits 9 when its record proves the table unchanged, without nft; --force loads anyway', async (t) => {
  const { exec, apply } = await setup();
  t.is((await apply()).code, EXIT.ok);
  exec.calls.length = 0;
  const r = await apply();
  t.deepEqual(r, { code: EXIT.unchanged, stdout: '', stderr: '' });
  t.deepEqual(nftCalls(exec), [], 'the no-op reads no listing');
  t.deepEqual(
    exec.calls.map((c) => c.cmd),
    ['perl'],
    'only the ruleset generation is asked',
  );
  const f = await apply('--force');
  t.is(f.code, EXIT.ok);
  t.deepEqual(nftCalls(exec), ['-t -f -', '-f -']);
});

test('a changed config over the table apply loaded last is loaded by a delta; --force and an edited table load in full', async (t) => {
  const { s, exec, apply } = await setup();
  t.is((await apply()).code, EXIT.ok);
  const changed = CONFIG.replace(/port: 8080/, 'port: 8081');
  t.not(changed, CONFIG);
  writeFileSync(s.config, changed);
  exec.calls.length = 0;
  const r = await apply();
  t.is(r.code, EXIT.ok, r.stderr);
  t.regex(r.stderr, /; by a delta \(2 elements\)\n$/);
  const [delta] = loadCalls(exec).map((c) => c.input ?? '');
  t.regex(delta!, /^delete element inet nftlb backends4 \{ \S+ \}$/m);
  t.true(delta!.length < 2000, 'only the difference is sent');
  t.is((await apply()).code, EXIT.unchanged, 'the record of the delta proves the next apply a no-op');
  writeFileSync(s.config, CONFIG);
  const f = await apply('--force', '--json');
  t.like(JSON.parse(f.stdout), { result: 'applied', load: { form: 'full' } });
  writeFileSync(s.config, changed);
  t.like(JSON.parse((await apply('--json')).stdout), { load: { form: 'delta', chains: 0, elements: 2, sets: 0 } });
  // A table changed by another program since: the generation moved, the image proves nothing.
  exec.dropTable('inet', 'nftlb');
  writeFileSync(s.config, CONFIG);
  t.like(JSON.parse((await apply('--json')).stdout), { load: { form: 'full' } });
});

test('remove empties the image of the last load (megabytes at scale), which describes a table that is gone', async (t) => {
  const { s, exec, apply } = await setup();
  t.is((await apply()).code, EXIT.ok);
  const image = join(s.dir, 'run', 'nftlb.image.json');
  t.true(readFileSync(image, 'utf8').length > 1000);
  const r = await runCommand(removeCommand, ['-c', s.config, '--lock-file', s.lock], exec);
  t.is(r.code, EXIT.ok, r.stderr);
  t.is(readFileSync(image, 'utf8'), 'null\n');
  t.like(JSON.parse((await apply('--json')).stdout), { load: { form: 'full' } });
});

test('a live table with the config fingerprint but no record of the load is loaded again (nothing proves it unedited)', async (t) => {
  const { script } = await setup();
  const live = await setup({ live: { fingerprint: script.fingerprint } });
  const r = await live.apply();
  t.is(r.code, EXIT.ok);
  t.regex(r.stderr, new RegExp(`\\(was ${script.fingerprint}\\)`));
  t.is((await live.apply()).code, EXIT.unchanged, 'the record of that load proves the next one a no-op');
});

test('apply loads when the live table has another fingerprint, and says which one it replaced', async (t) => {
  const { exec, apply } = await setup({
    live: { fingerprint: '0123456789abcdef0123456789abcdef' },
  });
  const r = await apply();
  t.is(r.code, EXIT.ok);
  t.regex(r.stderr, /\(was 0123456789abcdef0123456789abcdef\)/);
  // A table without the fingerprint chain (an older nftlb's) is listed in full for its table comment.
  t.deepEqual(nftCalls(exec), ['-t -f -', '-t list table inet nftlb', '-f -']);
});

test('an invalid config exits 3 with its diagnostics and runs nothing', async (t) => {
  const { exec, apply } = await setup(
    {},
    'services:\n  - name: web\n    vip: 203.0.113.1\n    port: 99999\n    backends: []\n',
  );
  const r = await apply();
  t.is(r.code, EXIT.configInvalid);
  t.regex(r.stderr, /nftlb\.yaml:4: .*port/);
  t.regex(r.stderr, /nothing was changed/);
  t.is(exec.calls.length, 0);
});

test('an unreadable config exits 4 and runs nothing', async (t) => {
  const exec = fakeSystem();
  const r = await runCommand(applyCommand, ['-c', '/nonexistent/nftlb.yaml', '--lock-file', '/tmp/x.lock'], exec);
  t.is(r.code, EXIT.configRead);
  t.regex(r.stderr, /cannot read config \/nonexistent\/nftlb\.yaml: ENOENT/);
  t.is(exec.calls.length, 0);
});

test('nft refusing the script exits 6 and shows the script line it refers to; no record was staged or moved', async (t) => {
  const { script } = await setup();
  const lines = script.text.split('\n');
  const n = lines.findIndex((l) => l.includes('chain svc_web_v4')) + 2;
  const { s, exec, apply } = await setup({
    loadError: `/dev/stdin:${n}:3-9: Error: Could not process rule: Operation not supported\n${lines[n - 1]}\n  ^^^^^^^\n`,
  });
  // nft answers only once the records are staged beside their files (as they are while a real nft works).
  const run = dirname(s.lock);
  const staged = (): string[] => readdirSync(run).filter((f) => f.endsWith('.tmp'));
  const load = exec.run.bind(exec);
  exec.run = async (cmd: string, a: readonly string[], input?: string) => {
    if (cmd === 'nft' && a.join(' ') === '-f -')
      for (let i = 0; i < 3000 && staged().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    return load(cmd, a, input);
  };
  const r = await apply();
  t.is(r.code, EXIT.nftFailed);
  t.regex(r.stderr, /nft refused the script; nothing was changed/);
  t.regex(
    r.stderr,
    new RegExp(
      `script line ${n} \\(chain svc_web_v4, service web IPv4\\): Error: Could not process rule: Operation not supported`,
    ),
  );
  t.true(r.stderr.includes(`${n} | ${(lines[n - 1] ?? '').replace(/\t/g, ' ')}`), r.stderr);
  t.is(
    r.stderr.split('\n').filter((l) => l.includes('counter ct mark set')).length,
    1,
    "nft's own echo of the line is not repeated",
  );
  t.deepEqual(nftCalls(exec), ['-t -f -', '-f -']);
  // The record for diff and the image were written beside their files while nft worked, and dropped when it refused.
  t.deepEqual(
    readdirSync(run).filter((f) => /\.tmp$|applied\.json$|image\.json$/.test(f)),
    [],
    readdirSync(run).join(' '),
  );
});

test('nft -f failing exits 6', async (t) => {
  const { exec, apply } = await setup({ loadError: 'Error: Could not process rule: Cannot allocate memory\n' });
  const r = await apply();
  t.is(r.code, EXIT.nftFailed);
  t.regex(
    r.stderr,
    /nft refused the script; nothing was changed\nError: Could not process rule: Cannot allocate memory/,
  );
  t.deepEqual(nftCalls(exec), ['-t -f -', '-f -']);
});

test('a held lock exits 8 without loading anything; --wait is passed to flock', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem({ heldLocks: new Set([s.lock]) });
  const r = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock], exec);
  t.is(r.code, EXIT.lockBusy);
  t.regex(r.stderr, /another nftlb apply holds .*apply\.lock \(use --wait SECONDS to wait for it\)/);
  t.deepEqual(loadCalls(exec), []);
  const w = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, '--wait', '3'], exec);
  t.is(w.code, EXIT.lockBusy);
  t.deepEqual(exec.calls.at(-1)?.args, ['-w', '3', '-E', '75', s.lock, 'cat']);
  t.regex(w.stderr, /after waiting 3 s/);
});

test('$NFTLB_LOCK names the lock file when --lock-file is not given', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const r = await runCommand(applyCommand, ['-c', s.config], exec, { NFTLB_LOCK: s.lock });
  t.is(r.code, EXIT.ok);
  t.is(exec.calls.find((c) => c.cmd === 'flock')?.args[3], s.lock);
});

test('a bad --wait is a usage error', async (t) => {
  const s = scratch(CONFIG);
  const r = await runCommand(applyCommand, ['-c', s.config, '--wait', 'soon'], fakeSystem());
  t.is(r.code, EXIT.usage);
});

test('nft missing exits 7; flock missing exits 7 naming flock', async (t) => {
  const { apply } = await setup({ missing: ['nft'] });
  const r = await apply();
  t.is(r.code, EXIT.toolMissing);
  t.regex(r.stderr, /nft is not installed or not on PATH/);
  const { apply: a2, exec } = await setup({ missing: ['flock'] });
  const r2 = await a2();
  t.is(r2.code, EXIT.toolMissing);
  t.regex(r2.stderr, /flock \(util-linux\) is not installed/);
  t.deepEqual(loadCalls(exec), []);
});

test('$NFTLB_NFT names the nft program', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem({ missing: ['nft'] });
  const r = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock], exec, { NFTLB_NFT: '/opt/nft' });
  t.is(r.code, EXIT.ok);
  t.true(exec.calls.some((c) => c.cmd === '/opt/nft'));
});

test('--dry-run prints the script and runs nothing', async (t) => {
  const { exec, script, apply } = await setup();
  const r = await apply('--dry-run');
  t.deepEqual(r, { code: EXIT.ok, stdout: script.text, stderr: '' });
  t.is(exec.calls.length, 0);
});

test('--json prints a stable object for applied, unchanged and errors', async (t) => {
  const { script, apply } = await setup();
  const a = await apply('--json');
  t.deepEqual(JSON.parse(a.stdout), {
    command: 'apply',
    result: 'applied',
    exitCode: 0,
    error: null,
    table: 'nftlb',
    tables: ['inet nftlb'],
    deleted: [],
    fingerprint: script.fingerprint,
    previousFingerprint: null,
    services: 2,
    warnings: [],
    load: { form: 'full' },
  });
  const u = await apply('--json');
  t.is(u.code, EXIT.unchanged);
  t.deepEqual(JSON.parse(u.stdout), {
    command: 'apply',
    result: 'unchanged',
    exitCode: 9,
    error: null,
    table: 'nftlb',
    tables: ['inet nftlb'],
    deleted: [],
    fingerprint: script.fingerprint,
    previousFingerprint: script.fingerprint,
    services: 2,
    warnings: [],
  });
  const { apply: bad } = await setup({ missing: ['nft'] });
  const e = await bad('--json');
  t.deepEqual(JSON.parse(e.stdout), {
    command: 'apply',
    result: 'error',
    exitCode: 7,
    error: { code: 'tool-missing', message: 'nft is not installed or not on PATH', detail: null },
  });
});

test('remove with a config that has errors elsewhere removes the table it names; a bad --table is a usage error', async (t) => {
  const broken = scratch(`table: lb2\n${CONFIG.replace('    port: 80\n', '    port: 80\n    bogus: 1\n')}`);
  const exec = fakeSystem({ live: { table: 'lb2', fingerprint: '0123456789abcdef0123456789abcdef' } });
  const r = await runCommand(removeCommand, ['-c', broken.config, '--lock-file', broken.lock], exec);
  t.is(r.code, EXIT.ok, r.stderr);
  t.regex(
    r.stderr,
    /warning: .*nftlb\.yaml: 1 error \(nftlb check lists them\); its table lb2 is removed all the same\n/,
  );
  t.regex(r.stderr, /removed table inet lb2\n$/);
  // The table key itself wrong, or no document: nothing to go by (exit 3, and nothing run).
  for (const text of [CONFIG.replace(/^/, 'table: 7\n'), 'services: [\n']) {
    const bad = scratch(text);
    const none = fakeSystem({ live: { table: 'lb2', fingerprint: '0123456789abcdef0123456789abcdef' } });
    const b = await runCommand(removeCommand, ['-c', bad.config, '--lock-file', bad.lock], none);
    t.is(b.code, EXIT.configInvalid, b.stderr);
    t.is(none.calls.length, 0);
  }
  const u = await runCommand(removeCommand, ['--table', 'bad name', '--lock-file', broken.lock], exec);
  t.is(u.code, EXIT.usage);
  t.regex(u.stderr, /--table "bad name" names no table nftlb makes: nft takes only letters/);
  // A name whose DSR companion <name>_dsr would be too long names no table either (remove deletes both).
  for (const n of [239, 242]) {
    const long = await runCommand(removeCommand, ['--table', 't'.repeat(n), '--lock-file', broken.lock], exec);
    t.is(long.code, EXIT.usage, long.stderr);
    t.regex(long.stderr, /names no table nftlb makes: it is longer than 238 characters: .*"<name>_dsr"/);
  }
});

test('remove deletes only its table, is idempotent, and refuses a table nftlb did not make', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem({
    live: { fingerprint: '0123456789abcdef0123456789abcdef' },
  });
  const r = await runCommand(removeCommand, ['-c', s.config, '--lock-file', s.lock], exec);
  t.is(r.code, EXIT.ok);
  t.is(r.stderr, 'nftlb: removed table inet nftlb\n');
  const loads = exec.calls.filter((c) => c.args.join(' ') === '-f -');
  t.is(loads[0]?.input, 'table inet nftlb {}\ndelete table inet nftlb\n');
  const again = await runCommand(removeCommand, ['-c', s.config, '--lock-file', s.lock, '--json'], exec);
  t.is(again.code, EXIT.ok);
  t.deepEqual(JSON.parse(again.stdout), {
    command: 'remove',
    result: 'absent',
    exitCode: 0,
    error: null,
    table: 'nftlb',
    tables: [],
  });
  const foreign = fakeSystem({ live: { table: 'mine', fingerprint: null } });
  const f = await runCommand(removeCommand, ['--table', 'mine', '--lock-file', s.lock], foreign);
  t.is(f.code, EXIT.foreignTable);
  t.regex(f.stderr, /table inet mine exists but was not made by nftlb/);
  t.is(loadCalls(foreign).length, 0);
});
