// --json: one envelope for every command (command, result, exitCode, error, then the command's own fields), on success
// and on every error path: unreadable and invalid configs, missing tools, foreign tables, usage errors.
import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { applyCommand } from '../../src/cli/apply.js';
import { backendSetupCommand } from '../../src/cli/backend-setup.js';
import { checkCommand } from '../../src/cli/check.js';
import type { CommandContext } from '../../src/cli/context.js';
import { diffCommand } from '../../src/cli/diff.js';
import { doctorCommand } from '../../src/cli/doctor.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { healthCommand } from '../../src/cli/health.js';
import { persistenceCommand } from '../../src/cli/persistence.js';
import { buildProgram } from '../../src/cli/program.js';
import { removeCommand } from '../../src/cli/remove.js';
import { renderCommand } from '../../src/cli/render.js';
import { statusCommand } from '../../src/cli/status.js';
import { traceCommand } from '../../src/cli/trace.js';
import { NftlbError } from '../../src/common/errors.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import type { Executor } from '../../src/system/executor.js';
import { cli } from '../support/cli.js';
import { fakeSystem, type FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';
import { CONFIG, runCommand, scratch, type RunResult } from '../support/run-command.js';

const INVALID = 'services:\n  - name: web\n    vip: 203.0.113.1\n    port: 99999\n    backends: []\n';
const MISSING = '/nonexistent/nftlb.yaml';

// The envelope of a run: its four keys as documented, and the exit code it reports is the one the command exited with.
function envelope(t: ExecutionContext, r: RunResult, command: string, result: string): Record<string, unknown> {
  const v = JSON.parse(r.stdout) as Record<string, unknown>;
  t.deepEqual(Object.keys(v).slice(0, 4), ['command', 'result', 'exitCode', 'error'], r.stdout);
  t.is(v['command'], command);
  t.is(v['result'], result, r.stdout);
  t.is(v['exitCode'], r.code);
  if (result === 'error') t.like(v['error'], { code: String((v['error'] as { code: string }).code) });
  return v;
}

const error = (t: ExecutionContext, r: RunResult, command: string, code: string, exit: number): void => {
  t.is(r.code, exit, r.stderr);
  const v = envelope(t, r, command, 'error');
  const e = v['error'] as { code: string; message: string; detail: string | null };
  t.is(e.code, code);
  t.true(e.message.length > 0);
  t.true(e.detail === null || typeof e.detail === 'string');
};

const run = (
  make: (ctx: CommandContext, exec: Executor) => Command,
  args: string[],
  exec: FakeSystem = fakeSystem(),
  env: NodeJS.ProcessEnv = {},
): Promise<RunResult> => runCommand(make, [...args, '--json'], exec, env);

test('render: the script and its facts; errors: unreadable (4), invalid with its diagnostics (3)', async (t) => {
  const s = scratch(CONFIG);
  const r = await run(renderCommand, ['-c', s.config]);
  t.is(r.code, EXIT.ok);
  const v = envelope(t, r, 'render', 'rendered');
  t.is(v['error'], null);
  const script = renderNftScript(plan(modelOf(CONFIG)));
  t.like(v, { file: s.config, format: 'nft', table: 'nftlb', services: 2, backends: 5 });
  t.is(v['fingerprint'], script.fingerprint);
  t.is(v['script'], script.text);
  error(t, await run(renderCommand, ['-c', MISSING]), 'render', 'config-read', EXIT.configRead);
  const bad = await run(renderCommand, ['-c', scratch(INVALID).config]);
  error(t, bad, 'render', 'config-invalid', EXIT.configInvalid);
  const diags = JSON.parse(bad.stdout).diagnostics as { code: string; line: number }[];
  t.true(diags.some((d) => d.line === 4 && d.code.startsWith('schema.')));
});

test('check: valid, invalid (3, every diagnostic), unreadable (4)', async (t) => {
  const ok = await run(checkCommand, ['-c', scratch(CONFIG).config]);
  t.is(ok.code, EXIT.ok);
  t.like(envelope(t, ok, 'check', 'valid'), { error: null, valid: true, services: 2, diagnostics: [] });
  const bad = await run(checkCommand, ['-c', scratch(INVALID).config]);
  error(t, bad, 'check', 'config-invalid', EXIT.configInvalid);
  const v = JSON.parse(bad.stdout) as { valid: boolean; diagnostics: unknown[]; error: { message: string } };
  t.false(v.valid);
  t.true(v.diagnostics.length >= 1);
  t.regex(v.error.message, /\d+ errors?/);
  const gone = await run(checkCommand, ['-c', MISSING]);
  error(t, gone, 'check', 'config-read', EXIT.configRead);
  t.like(JSON.parse(gone.stdout), { file: MISSING, valid: false, diagnostics: [] });
});

test('apply: an invalid config carries its diagnostics; a refused script carries nft’s message', async (t) => {
  const s = scratch(INVALID);
  const bad = await run(applyCommand, ['-c', s.config, '--lock-file', s.lock]);
  error(t, bad, 'apply', 'config-invalid', EXIT.configInvalid);
  t.true((JSON.parse(bad.stdout).diagnostics as unknown[]).length > 0);
  const ok = scratch(CONFIG);
  const refused = await run(
    applyCommand,
    ['-c', ok.config, '--lock-file', ok.lock],
    fakeSystem({ loadError: '/dev/stdin:3:1-4: Error: Could not process rule: Operation not supported\n' }),
  );
  error(t, refused, 'apply', 'nft-failed', EXIT.nftFailed);
  t.regex((JSON.parse(refused.stdout).error as { detail: string }).detail, /Operation not supported/);
  const dry = await run(applyCommand, ['-c', ok.config, '--lock-file', ok.lock, '--dry-run']);
  t.like(envelope(t, dry, 'apply', 'dry-run'), { error: null, table: 'nftlb', services: 2 });
});

test('diff: same (0) and differs (12) are outcomes, not errors; nft missing is (7)', async (t) => {
  const s = scratch(CONFIG);
  const fp = renderNftScript(plan(modelOf(CONFIG))).fingerprint;
  const env = { NFTLB_STATE_DIR: s.dir };
  const same = await run(
    diffCommand,
    ['-c', s.config, '--lock-file', s.lock],
    fakeSystem({ live: { fingerprint: fp } }),
    env,
  );
  t.is(same.code, EXIT.ok);
  t.like(envelope(t, same, 'diff', 'same'), { error: null, table: 'nftlb', live: 'matches', changes: [] });
  const differs = await run(diffCommand, ['-c', s.config, '--lock-file', s.lock], fakeSystem(), env);
  t.is(differs.code, EXIT.differs);
  const v = envelope(t, differs, 'diff', 'differs');
  t.is(v['error'], null);
  t.like((v['changes'] as unknown[])[0], { kind: 'service-added', service: 'web' });
  error(
    t,
    await run(diffCommand, ['-c', s.config, '--lock-file', s.lock], fakeSystem({ missing: ['nft'] }), env),
    'diff',
    'tool-missing',
    EXIT.toolMissing,
  );
});

test('status: the status after the envelope; an unreadable config (4)', async (t) => {
  const s = scratch(CONFIG);
  const env = { NFTLB_STATE_DIR: s.dir };
  const ok = await run(statusCommand, ['-c', s.config], fakeSystem(), env);
  t.is(ok.code, EXIT.ok);
  t.like(envelope(t, ok, 'status', 'ok'), { error: null, table: 'nftlb', live: 'absent' });
  error(t, await run(statusCommand, ['-c', MISSING], fakeSystem(), env), 'status', 'config-read', EXIT.configRead);
});

test('remove: removed and absent; a table nftlb did not make (14)', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem({ live: { fingerprint: '00' } });
  const r = await run(removeCommand, ['-c', s.config, '--lock-file', s.lock], exec);
  t.like(envelope(t, r, 'remove', 'removed'), { error: null, table: 'nftlb' });
  const foreign = fakeSystem({ live: { table: 'mine', fingerprint: null } });
  const f = await run(removeCommand, ['--table', 'mine', '--lock-file', s.lock], foreign);
  error(t, f, 'remove', 'foreign-table', EXIT.foreignTable);
  t.like(JSON.parse(f.stdout), { table: 'mine' });
});

test('doctor: ok, blocked (10, an outcome), and a host fault while checking (13)', async (t) => {
  const proc = async (): Promise<string | null> => '1';
  const doctor = (exec: FakeSystem, p = proc) => run((ctx, e) => doctorCommand(ctx, e, p), [], exec);
  const exec = fakeSystem();
  for (const tool of ['flock', 'conntrack'])
    exec.outputs.set(`${tool} --version`, { exitCode: 0, stdout: `${tool} 1.0\n`, stderr: '' });
  exec.outputs.set('iptables-legacy-save -t nat', { exitCode: 0, stdout: '', stderr: '' });
  const ok = await doctor(exec);
  t.is(ok.code, EXIT.ok);
  t.like(envelope(t, ok, 'doctor', 'ok'), { error: null, ok: true });
  const blocked = await doctor(fakeSystem({ missing: ['nft'] }));
  t.is(blocked.code, EXIT.blocked);
  t.like(envelope(t, blocked, 'doctor', 'blocked'), { error: null, ok: false });
  const fault = await doctor(exec, async () => {
    throw new NftlbError('host-fault', 'cannot read /proc/sys/net/ipv4/ip_forward: EACCES');
  });
  error(t, fault, 'doctor', 'host-fault', EXIT.hostFault);
});

test('health: --once and --status; an unreadable config (4); none or two modes (2)', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const args = ['-c', s.config, '--state-dir', s.dir, '--lock-file', s.lock];
  const once = await run(healthCommand, [...args, '--once'], exec);
  t.is(once.code, EXIT.ok, once.stderr);
  t.like(envelope(t, once, 'health', 'checked'), { error: null, mode: 'once', table: 'nftlb', action: 'full' });
  const status = await run(healthCommand, [...args, '--status'], exec);
  const v = envelope(t, status, 'health', 'ok');
  t.like(v, { error: null, mode: 'status', table: 'nftlb' });
  t.is((v['backends'] as unknown[]).length, 5);
  const gone = await run(healthCommand, ['-c', MISSING, '--once'], exec);
  error(t, gone, 'health', 'config-read', EXIT.configRead);
  t.like(JSON.parse(gone.stdout), { mode: 'once' });
  error(t, await run(healthCommand, [...args], exec), 'health', 'usage', EXIT.usage);
  error(t, await run(healthCommand, [...args, '--once', '--status'], exec), 'health', 'usage', EXIT.usage);
  error(
    t,
    await run(healthCommand, [...args, '--once', '--metrics-listen', '127.0.0.1:0'], exec),
    'health',
    'usage',
    EXIT.usage,
  );
});

test('health --once, ecmp: a BIRD that cannot be told is the outcome (16), after the round', async (t) => {
  const s = scratch(readFileSync('fixtures/cluster/ecmp-dsr/config.yaml', 'utf8'));
  const exec = fakeSystem();
  const args = ['-c', s.config, '--state-dir', s.dir, '--lock-file', s.lock, '--once'];
  const r = await run(healthCommand, args, exec, { NFTLB_NODE: 'lb1', NFTLB_CLUSTER_DIR: s.dir });
  t.is(r.code, EXIT.engineFailed, r.stderr);
  // An error's envelope (the round's fields are there too: it was done).
  const v = envelope(t, r, 'health', 'error');
  t.like(v, { mode: 'once', action: 'full', error: { code: 'engine-failed' } });
  t.regex(r.stderr, /birdc -s .*bird\.ctl show protocols/);
});

test('import: imported, incomplete (11, an outcome), unreadable input (4)', async (t) => {
  const s = scratch(CONFIG);
  const save = join(s.dir, 'rules.v4');
  writeFileSync(
    save,
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.51.100.2:8080',
      'COMMIT',
      '',
    ].join('\n'),
  );
  const ok = await cli(['import', 'iptables', save, '--json']);
  t.is(ok.code, EXIT.ok, ok.stderr);
  const v = envelope(t, ok, 'import', 'imported');
  t.like(v, { error: null, files: [save], services: 1, problems: [] });
  t.regex(v['config'] as string, /address: 198\.51\.100\.2/);
  const odd = join(s.dir, 'odd.v4');
  writeFileSync(odd, '*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 198.51.100.2-198.51.100.9\nCOMMIT\n');
  const part = await cli(['import', 'iptables', odd, '--json']);
  t.is(part.code, EXIT.importIncomplete, part.stderr);
  const p = envelope(t, part, 'import', 'incomplete');
  t.is(p['error'], null);
  t.true((p['problems'] as unknown[]).length > 0);
  const gone = await cli(['import', 'iptables', MISSING, '--json']);
  error(t, gone, 'import', 'config-read', EXIT.configRead);
});

const DSR = `services:
  - name: dns
    vip: 203.0.113.53
    port: 53
    protocol: [udp, tcp]
    forwarding: dsr
    interface: eth1
    scheduler: maglev
    backends:
      - { address: 198.51.100.53 }
`;

test('backend-setup: the recipe after the envelope; an address that is no DSR backend (2) and its message', async (t) => {
  const s = scratch(DSR);
  const ok = await run(backendSetupCommand, ['-c', s.config, '--backend', '198.51.100.53']);
  t.is(ok.code, EXIT.ok, ok.stderr);
  const v = envelope(t, ok, 'backend-setup', 'ok');
  t.like(v, { error: null, address: '198.51.100.53', services: ['dns'] });
  t.true((v['steps'] as unknown[]).length > 0);
  const no = await run(backendSetupCommand, ['-c', s.config, '--backend', '198.51.100.99']);
  error(t, no, 'backend-setup', 'usage', EXIT.usage);
  t.regex(no.stderr, /198\.51\.100\.99 is no backend of a DSR service/);
  t.like(JSON.parse(no.stdout), { backend: '198.51.100.99' });
  const iface = await run(backendSetupCommand, ['-c', s.config, '--backend', '198.51.100.53', '--interface', 'a b']);
  error(t, iface, 'backend-setup', 'usage', EXIT.usage);
});

test('persistence list and flush: one command with its action; a table nftlb did not make (14)', async (t) => {
  const s = scratch(CONFIG);
  const env = { NFTLB_STATE_DIR: s.dir };
  const list = await run(persistenceCommand, ['list', '-c', s.config], fakeSystem(), env);
  t.is(list.code, EXIT.ok, list.stderr);
  t.like(envelope(t, list, 'persistence', 'listed'), { error: null, action: 'list', table: 'nftlb', entries: [] });
  const flush = await run(persistenceCommand, ['flush', '-c', s.config], fakeSystem(), env);
  t.is(flush.code, EXIT.ok, flush.stderr);
  t.like(envelope(t, flush, 'persistence', 'flushed'), { error: null, action: 'flush', table: 'nftlb', flushed: 0 });
  // No table: said so, not an empty list or "removed 0 entries" (JSON: loaded false).
  t.like(JSON.parse(list.stdout), { loaded: false });
  t.like(JSON.parse(flush.stdout), { loaded: false });
  const text = await runCommand(persistenceCommand, ['flush', '-c', s.config], fakeSystem(), env);
  t.is(text.stderr, 'nftlb: table inet nftlb is not loaded: it has no persistence entries\n');
  const foreign = fakeSystem({ live: { fingerprint: null } });
  const f = await run(persistenceCommand, ['list', '-c', s.config], foreign, env);
  error(t, f, 'persistence', 'foreign-table', EXIT.foreignTable);
  t.like(JSON.parse(f.stdout), { action: 'list' });
});

test('trace: errors are one envelope line (the output is one JSON object per line)', async (t) => {
  const s = scratch(CONFIG);
  const noSignals = { on: () => undefined, off: () => undefined };
  const trace = (args: string[]) =>
    run(
      (ctx, exec) => traceCommand(ctx, exec, noSignals),
      ['-c', s.config, '--lock-file', s.lock, ...args],
      fakeSystem(),
      { NFTLB_STATE_DIR: s.dir },
    );
  // A DSR service is never traced (its packets leave before the inet table): refused with why.
  const dsr = scratch(readFileSync('fixtures/cluster/ecmp-dsr/config.yaml', 'utf8'));
  const d = await run(
    (ctx, exec) => traceCommand(ctx, exec, noSignals),
    ['-c', dsr.config, '--service', 'web'],
    fakeSystem(),
    {
      NFTLB_STATE_DIR: dsr.dir,
    },
  );
  error(t, d, 'trace', 'usage', EXIT.usage);
  t.regex(d.stderr, /web is a DSR service: its packets leave at the netdev ingress/);
  // What commander refuses (an unknown option, a bad count) takes the same one-line form.
  const refused = [await cli(['trace', '--json', '--bogus']), await cli(['trace', '--json', '--count', '0'])];
  for (const r of [await trace([]), await trace(['--service', 'nope']), ...refused]) {
    t.is(r.stdout.split('\n').length, 2, r.stdout);
    error(t, r, 'trace', 'usage', EXIT.usage);
    t.like(JSON.parse(r.stdout), { kind: 'summary' });
  }
});

test('a usage error with --json is an envelope too', async (t) => {
  const r = await cli(['apply', '--bogus', '--json']);
  error(t, r, 'apply', 'usage', EXIT.usage);
  t.regex(r.stderr, /unknown option '--bogus'/);
  const w = await cli(['health', '--watch', '--metrics-listen', 'localhost', '--json']);
  error(t, w, 'health', 'usage', EXIT.usage);
});

// Every command of the tree, present and future: --json exists, and a config that cannot be read gives its envelope.
const quiet: CommandContext = { io: { out: () => undefined, err: () => undefined }, env: {}, exit: () => undefined };
function leaves(c: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  return c.commands.flatMap((s) =>
    s.commands.length > 0 ? leaves(s, [...path, s.name()]) : [{ path: [...path, s.name()], cmd: s }],
  );
}

// What a command needs besides -c to get as far as reading the config: its mode, its required option, its arguments.
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  health: ['--once'],
  'backend-setup': ['--backend', '198.51.100.2'],
  backend: ['web', '198.51.100.2'],
  which: ['--service', 'web', '198.51.100.9'],
  cluster: ['master'],
};

test('every command has --json, and an unreadable -c config gives the error envelope (exit 4)', async (t) => {
  for (const { path, cmd } of leaves(buildProgram(quiet))) {
    const name = path.join(' ');
    t.true(
      cmd.options.some((o) => o.long === '--json'),
      `${name} has no --json`,
    );
    if (!cmd.options.some((o) => o.long === '--config')) continue;
    const r = await cli([...path, ...(REQUIRED[path[0]!] ?? []), '-c', MISSING, '--json'], {
      NFTLB_NFT: '/nonexistent/nft',
    });
    t.is(r.code, EXIT.configRead, `${name}: ${r.stderr}`);
    const v = JSON.parse(r.stdout) as { command: string; result: string; error: { code: string } };
    t.is(v.command, path[0]!);
    t.is(v.result, 'error');
    t.is(v.error.code, 'config-read');
  }
});

test('which: the answers after the envelope; no such service (2)', async (t) => {
  const ecmp = 'fixtures/cluster/ecmp-dsr/config.yaml';
  const r = await cli(['which', '-c', ecmp, '--service', 'web', '--json', '198.18.0.10:40000']);
  t.is(r.code, EXIT.ok, r.stderr);
  const v = envelope(t, r, 'which', 'answered');
  t.like(v, { error: null, service: 'web', scheduler: 'maglev' });
  t.is((v['answers'] as unknown[]).length, 1);
  const none = await cli(['which', '-c', ecmp, '--service', 'nope', '--json', '198.18.0.10:1']);
  error(t, none, 'which', 'usage', EXIT.usage);
});

test('cluster notify: each conntrackd step after the envelope; a refused step is engine-failed (16)', async (t) => {
  const vrrp = 'fixtures/cluster/vrrp-nat/config.yaml';
  const d = scratch(CONFIG).dir;
  const fake = (name: string, code: number): string => {
    const p = join(d, name);
    writeFileSync(p, `#!/bin/sh\nexit ${code}\n`, { mode: 0o755 });
    return p;
  };
  const args = ['cluster', 'notify', 'master', '-c', vrrp, '--node', 'lb1', '--cluster-dir', d, '--json'];
  const ok = await cli(args, { ...process.env, NFTLB_CONNTRACKD: fake('conntrackd-ok', 0) });
  t.is(ok.code, EXIT.ok, ok.stderr);
  const v = envelope(t, ok, 'cluster', 'notified');
  t.like(v, { error: null, action: 'notify', node: 'lb1', state: 'master' });
  t.deepEqual(
    (v['steps'] as { step: string; error: string | null }[]).map((s) => [s.step, s.error]),
    [
      ['commit', null],
      ['flush', null],
      ['resync', null],
      ['bulk', null],
    ],
  );
  const bad = await cli(args, { ...process.env, NFTLB_CONNTRACKD: fake('conntrackd-bad', 1) });
  error(t, bad, 'cluster', 'engine-failed', EXIT.engineFailed);
});
