// `nftlb backend drain|undrain|down|up` on the fake host: the override reaches the live table at once through health's
// incremental path, is kept in its own file, survives apply and health, shows in status, and errors have their codes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { applyCommand } from '../../src/cli/apply.js';
import { backendCommand, parseBackendArgument } from '../../src/cli/backend.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { healthCommand } from '../../src/cli/health.js';
import { statusCommand } from '../../src/cli/status.js';
import { FakeSystem } from '../support/fake-system.js';
import { runCommand, scratch } from '../support/run-command.js';

const CONFIG = `table: ov
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    on-down: reset
    health: { type: exec, command: ["true"] }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: dns
    vip: 203.0.113.2
    port: 53
    protocol: udp
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.2, port: 5353 }
`;

// A scratch config, a fake kernel, and the commands with the scratch state dir and lock.
function setup(config = CONFIG) {
  const s = scratch(config);
  const exec = new FakeSystem();
  const common = ['-c', s.config, '--lock-file', s.lock];
  const env = { NFTLB_STATE_DIR: s.dir };
  return {
    s,
    exec,
    backend: (...args: string[]) => runCommand(backendCommand, [...args, ...common, '--state-dir', s.dir], exec, env),
    health: (...args: string[]) => runCommand(healthCommand, [...args, ...common, '--state-dir', s.dir], exec, env),
    apply: (...args: string[]) => runCommand(applyCommand, [...args, ...common], exec, env),
    status: (...args: string[]) => runCommand(statusCommand, [...args, '-c', s.config], exec, env),
    overrides: () => JSON.parse(readFileSync(join(s.dir, 'overrides-ov.json'), 'utf8')),
    state: () => JSON.parse(readFileSync(join(s.dir, 'health-ov.json'), 'utf8')),
  };
}

// The rule of a chain in a script (one rule per service chain).
const chainRule = (script: string, chain: string): string =>
  new RegExp(`chain (?:inet \\S+ )?${chain} \\{\n\\s*([^\\n]*)`).exec(script)?.[1] ?? '';

test('ADDRESS[:PORT] arguments', (t) => {
  t.like(parseBackendArgument('198.51.100.2'), { address: { text: '198.51.100.2' }, port: undefined });
  t.like(parseBackendArgument('198.51.100.2:8080'), { address: { text: '198.51.100.2' }, port: 8080 });
  t.like(parseBackendArgument('2001:db8:0::2'), { address: { family: 6, text: '2001:db8::2' }, port: undefined });
  t.like(parseBackendArgument('[2001:db8::2]:8080'), { address: { family: 6, text: '2001:db8::2' }, port: 8080 });
  for (const bad of ['web', '198.51.100.2:0', '198.51.100.2:65536', '198.51.100.2:x', '[198.51.100.2]:80', '[::1', ''])
    t.throws(() => parseBackendArgument(bad), { message: /expected ADDRESS or ADDRESS:PORT/ }, bad);
});

test('drain: one incremental transaction behind the guard chain takes the backend out; undrain brings it back', async (t) => {
  const { exec, backend, health, overrides, state } = setup();
  t.is((await health('--once')).code, EXIT.ok);
  const guard = state().live.token as string;
  const before = exec.transactions.length;

  const r = await backend('drain', 'web', '198.51.100.3:8080', '--json');
  t.is(r.code, EXIT.ok, r.stderr);
  t.is(
    r.stderr,
    'nftlb: backend web 198.51.100.3:8080 (id 2): override drain set; state drain\nnftlb: table inet ov: updated web\n',
  );
  t.like(JSON.parse(r.stdout), {
    command: 'backend',
    result: 'changed',
    exitCode: 0,
    action: 'drain',
    service: 'web',
    backend: '198.51.100.3:8080',
    id: 2,
    override: 'drain',
    previous: null,
    configState: 'up',
    state: 'drain',
    update: { action: 'incremental', why: 'updated web', services: ['web'], reset: [] },
  });
  // One nft transaction, nothing checked first, nothing replaced: the guard, then web's pool without backend 2.
  const txs = exec.transactions.slice(before);
  t.is(txs.length, 1);
  const script = txs[0]!.script;
  t.true(script.startsWith(`flush chain inet ov ${guard}\nadd table inet ov\n`), script);
  t.false(script.includes('delete table'));
  t.regex(script, /add map inet ov slots_0 \{[^}]*elements = \{ 1048576 : 1, 1048577 : 3 \}/);
  t.is(chainRule(script, 'svc_web_v4'), 'counter ct mark set numgen inc mod 2 offset 1048576');
  t.like(overrides(), { version: 1, table: 'ov', backends: { 'web/198.51.100.3:8080': { state: 'drain' } } });
  t.deepEqual(state().loaded.overrides, { 'web/198.51.100.3:8080': 'drain' });
  t.is(state().overrides, undefined, 'the current overrides live in their own file only');
  t.deepEqual(exec.conntrackDeleted, [], 'drain keeps established connections');
  // The lock was taken (flock holds it for the whole command).
  t.true(exec.calls.slice(-3).some((c) => c.cmd === 'flock'));

  const again = await backend('drain', 'web', '198.51.100.3');
  t.is(again.code, EXIT.ok);
  t.regex(again.stderr, /override drain already set; state drain\n$/);

  const u = await backend('undrain', 'web', '198.51.100.3:8080');
  t.is(u.code, EXIT.ok, u.stderr);
  t.regex(u.stderr, /override drain removed; state up \(the config's\)\nnftlb: table inet ov: updated web\n/);
  t.is(chainRule(exec.loads().at(-1)!, 'svc_web_v4'), 'counter ct mark set numgen inc mod 3 offset 1');
  t.deepEqual(overrides().backends, {});
  t.is(state().loaded.overrides, undefined);
});

test('down on an on-down reset service without conntrack: exit 7 before anything changed', async (t) => {
  const { exec, backend, health, s } = setup();
  await health('--once');
  const loads = exec.loads().length;
  exec.missing.add('conntrack');
  const r = await backend('down', 'web', '198.51.100.2:8080');
  t.is(r.code, EXIT.toolMissing, r.stderr);
  t.regex(r.stderr, /conntrack is not installed/);
  t.is(exec.loads().length, loads, 'the table was not changed');
  t.false(existsSync(join(s.dir, 'overrides-ov.json')), 'no override recorded');
  // drain resets nothing: it needs no conntrack; nor does down on a service without reset.
  t.is((await backend('drain', 'web', '198.51.100.2:8080')).code, EXIT.ok);
  t.is((await backend('down', 'dns', '198.51.100.2:53')).code, EXIT.ok);
  // health will not start a round that could not reset.
  const h = await health('--once');
  t.is(h.code, EXIT.toolMissing, h.stderr);
});

test('down after a reload that moved ids resets the connections answered from the backend, not those of its id', async (t) => {
  const { s, exec, backend, apply } = setup();
  t.is((await apply()).code, EXIT.ok);
  // 198.51.100.2 leaves: 198.51.100.4 is id 2 now, and its connections opened before keep mark 3 (and 198.51.100.3's
  // mark 2), so `conntrack -D --mark 2` would cut 198.51.100.3's connections and leave 198.51.100.4's.
  writeFileSync(s.config, CONFIG.replace('      - { address: 198.51.100.2, port: 8080 }\n', ''));
  t.is((await apply()).code, EXIT.ok);
  const r = await backend('down', 'web', '198.51.100.4:8080', '--json');
  t.is(r.code, EXIT.ok, r.stderr);
  t.like(JSON.parse(r.stdout), { update: { reset: [2] } });
  t.deepEqual(exec.conntrackDeleted, [
    '-f ipv4 -p tcp --orig-dst 203.0.113.1 --reply-src 198.51.100.4 --orig-port-dst 80 --reply-port-src 8080',
  ]);
});

test('down resets the backend connections when the service has on-down: reset; up removes the override', async (t) => {
  const { exec, backend, health } = setup();
  await health('--once');
  const r = await backend('down', 'web', '198.51.100.2:8080', '--json');
  t.is(r.code, EXIT.ok, r.stderr);
  t.like(JSON.parse(r.stdout), { override: 'down', state: 'down', update: { action: 'incremental', reset: [1] } });
  // Its connections: to web's VIP and port, answered from its address and port.
  const of2 = '-f ipv4 -p tcp --orig-dst 203.0.113.1 --reply-src 198.51.100.2 --orig-port-dst 80 --reply-port-src 8080';
  t.deepEqual(exec.conntrackDeleted, [of2]);
  t.regex(r.stderr, /reset connections of backend id 1 \(on-down: reset\)/);
  // drain after down: no second reset; down again: none either (already down).
  await backend('drain', 'web', '198.51.100.2:8080');
  await backend('down', 'web', '198.51.100.2:8080');
  t.deepEqual(exec.conntrackDeleted, [of2, of2], 'down after drain resets (drain kept them)');
  await backend('down', 'web', '198.51.100.2:8080');
  t.deepEqual(exec.conntrackDeleted, [of2, of2]);
  const up = await backend('up', 'web', '198.51.100.2:8080');
  t.regex(up.stderr, /override down removed; state up/);
  t.is(chainRule(exec.loads().at(-1)!, 'svc_web_v4'), 'counter ct mark set numgen inc mod 3 offset 1');
});

test('the override survives apply and health: both plan with it', async (t) => {
  const { exec, backend, health, apply, state } = setup();
  // No table yet: the command loads it in full, already without the drained backend.
  const first = await backend('drain', 'web', '198.51.100.3:8080', '--json');
  t.like(JSON.parse(first.stdout), { update: { action: 'full', why: 'no table loaded by nftlb health yet' } });
  t.is(chainRule(exec.loads().at(-1)!, 'svc_web_v4'), 'counter ct mark set numgen inc mod 2 offset 1048576');
  // apply plans with the override: the script it would load keeps web at two backends.
  const dry = await apply('--dry-run');
  t.is(chainRule(dry.stdout, 'svc_web_v4'), 'counter ct mark set numgen inc mod 2 offset 1048576');
  // A load by apply (--force: the same config) keeps the override in.
  const loaded = await apply('--force');
  t.is(loaded.code, EXIT.ok, loaded.stderr);
  t.is(chainRule(exec.loads().at(-1)!, 'svc_web_v4'), 'counter ct mark set numgen inc mod 2 offset 1048576');
  // apply replaced the table (the guard is gone): health reloads it in full, with the override.
  const h = await health('--once', '--json');
  t.like(JSON.parse(h.stdout), { action: 'full', why: 'the table was replaced since the last health run' });
  t.is(chainRule(exec.loads().at(-1)!, 'svc_web_v4'), 'counter ct mark set numgen inc mod 2 offset 1048576');
  t.deepEqual(state().loaded.overrides, { 'web/198.51.100.3:8080': 'drain' });
  // And a round with nothing new leaves it as it is.
  t.like(JSON.parse((await health('--once', '--json')).stdout), { action: 'none' });
});

test('status, status --json, --prometheus and health --status show the override', async (t) => {
  const { backend, health, status, s } = setup();
  await health('--once');
  await backend('drain', 'web', '198.51.100.3:8080');
  const j = JSON.parse((await status('--json')).stdout);
  t.like(j.services[0].backends[1], {
    endpoint: '198.51.100.3:8080',
    state: 'drain',
    override: 'drain',
    active: false,
  });
  t.like(j.services[0].backends[0], { state: 'up', override: null, active: true });
  const text = (await status()).stdout;
  t.regex(text, /198\.51\.100\.3:8080 +drain \(override, out\) /);
  const prom = (await status('--prometheus')).stdout;
  t.true(
    prom.includes('nftlb_backend_override{table="ov",service="web",backend="198.51.100.3:8080",state="drain"} 1\n'),
    prom,
  );
  t.true(prom.includes('nftlb_backend_up{table="ov",service="web",backend="198.51.100.3:8080"} 0\n'));
  t.false(prom.includes('nftlb_backend_override{table="ov",service="web",backend="198.51.100.2:8080"'));
  const hs = await health('--status', '--json');
  const rows = JSON.parse(hs.stdout);
  t.is(rows.overridesFile, join(s.dir, 'overrides-ov.json'));
  t.like(rows.backends[1], { endpoint: '198.51.100.3:8080', state: 'drain', override: 'drain', active: false });
  t.regex((await health('--status')).stdout, /198\.51\.100\.3:8080 +2 +drain \(override\) +unknown +no /);
});

test('unknown service or backend, or an address of several backends: exit 15, nothing changed', async (t) => {
  const { exec, backend, health } = setup();
  await health('--once');
  const n = exec.calls.length;
  const cases: [string[], string][] = [
    [['drain', 'api', '198.51.100.2'], /no service "api" in .*nftlb\.yaml \(services: web, dns\)/.source],
    [
      ['drain', 'web', '198.51.100.9:8080'],
      /service web has no backend 198\.51\.100\.9:8080 \(backends: 198\.51\.100\.2:8080, 198\.51\.100\.3:8080, 198\.51\.100\.4:8080\)/
        .source,
    ],
    [['down', 'web', '198.51.100.2:80'], /service web has no backend 198\.51\.100\.2:80 \(backends: .*\)/.source],
    [
      ['drain', 'dns', '198.51.100.2'],
      /198\.51\.100\.2 is 2 backends of service dns \(198\.51\.100\.2:53, 198\.51\.100\.2:5353\): give ADDRESS:PORT/
        .source,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await backend(...args, '--json');
    t.is(r.code, EXIT.notFound, r.stderr);
    t.regex(r.stderr, new RegExp(`^nftlb: ${message}\\n$`));
    t.like(JSON.parse(r.stdout), { command: 'backend', result: 'error', exitCode: 15, error: { code: 'not-found' } });
  }
  t.deepEqual(exec.calls.slice(n), [], 'no lock, no nft');
  const usage = await backend('drain', 'web', 'not-an-address');
  t.is(usage.code, EXIT.usage);
  t.regex(usage.stderr, /expected ADDRESS or ADDRESS:PORT/);
  // The port picks one of the two.
  t.is((await backend('drain', 'dns', '198.51.100.2:5353')).code, EXIT.ok);
});

test('nft refuses the update: exit 6, the override file is put back', async (t) => {
  const { exec, backend, health, overrides } = setup();
  await health('--once');
  await backend('drain', 'web', '198.51.100.2:8080');
  const before = overrides();
  exec.refuse = () => 'Error: Could not process rule: Operation not supported';
  const r = await backend('down', 'web', '198.51.100.4:8080');
  t.is(r.code, EXIT.nftFailed, r.stderr);
  t.deepEqual(overrides(), before);
});

test('a busy lock: exit 8, nothing written', async (t) => {
  const { exec, backend, s } = setup();
  exec.heldLocks.add(s.lock);
  const r = await backend('drain', 'web', '198.51.100.2:8080', '--wait', '0');
  t.is(r.code, EXIT.lockBusy, r.stderr);
  t.throws(() => readFileSync(join(s.dir, 'overrides-ov.json')));
  t.deepEqual(exec.transactions, []);
});

test("an overrides file that is not nftlb's: exit 13 naming it, for backend, apply and status alike", async (t) => {
  const { backend, apply, status, s } = setup();
  writeFileSync(join(s.dir, 'overrides-ov.json'), '{"version": 1, "table": "ov", "backends": {"web/x": "drain"}}');
  for (const r of [await backend('drain', 'web', '198.51.100.2:8080'), await apply('--dry-run'), await status()]) {
    t.is(r.code, EXIT.hostFault, r.stderr);
    t.regex(r.stderr, /cannot use the backend overrides .*overrides-ov\.json: expected backends: /);
    t.regex(r.stderr, /fix the file, or remove it to drop every override of the table/);
  }
});

test('overrides of backends no longer in the config are dropped when the file is next written', async (t) => {
  const { backend, overrides, s } = setup();
  await backend('drain', 'web', '198.51.100.4:8080');
  writeFileSync(s.config, CONFIG.replace('      - { address: 198.51.100.4, port: 8080 }\n', ''));
  const r = await backend('drain', 'web', '198.51.100.2:8080');
  t.regex(r.stderr, /dropped the override of web\/198\.51\.100\.4:8080: no such backend in the config any more/);
  t.deepEqual(Object.keys(overrides().backends), ['web/198.51.100.2:8080']);
});
