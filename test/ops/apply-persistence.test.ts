import test from 'ava';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyCommand } from '../../src/cli/apply.js';
import { diffCommand } from '../../src/cli/diff.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { fakeSystem } from '../support/fake-system.js';
import { runCommand, scratch } from '../support/run-command.js';

const config = (port: number, persistence = '    persistence: { netmask: 24 }\n'): string =>
  `services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    port: 80
${persistence}    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
  - name: other
    vip: 203.0.113.1
    port: ${port}
    backends:
      - { address: 198.51.100.3 }
`;

// Without the image of the last load (as after a reboot, which empties /run and the ruleset alike, or after a change
// by another program), apply reloads in place; with it, by a delta (the last test).
async function setup() {
  const s = scratch(config(81));
  const exec = fakeSystem();
  const apply = (...args: string[]) =>
    runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, ...args], exec, { NFTLB_STATE_DIR: s.dir });
  const first = await apply('--json');
  if (first.code !== EXIT.ok) throw new Error(first.stderr);
  const write = (text: string, image = false): void => {
    writeFileSync(s.config, text);
    if (!image) rmSync(join(s.dir, 'run', 'nftlb.image.json'), { force: true });
  };
  return { s, exec, apply, write };
}

test('apply over a table with persistence maps empties it in place: the entries stay, the fingerprint moves to a chain', async (t) => {
  const { exec, apply, write } = await setup();
  t.notRegex(exec.loads()[0]!, /flush table/, 'the first load replaces (creates) the table whole');
  write(config(82));
  const r = await apply();
  t.is(r.code, EXIT.ok, r.stderr);
  t.regex(r.stderr, /; persistence entries kept\n$/);
  const script = exec.loads().at(-1)!;
  t.regex(script, /^flush table inet nftlb\n((flush|delete) (map|set|chain) inet nftlb \S+\n)+table inet nftlb \{$/m);
  t.notRegex(script, /^delete table|^delete map inet nftlb persist(4|6)\n/m);
  // The table comment stays what it was; the fingerprint chain says what is loaded, so the same config is a no-op.
  const again = await apply();
  t.is(again.code, EXIT.unchanged, again.stderr);
  const json = await apply('--json', '--force');
  t.is(JSON.parse(json.stdout).persistence, 'kept');
});

test('an in-place load that nft refuses falls back to the whole replacement, which drops the entries', async (t) => {
  const { exec, apply, write } = await setup();
  exec.refuse = (script) =>
    script.startsWith('flush table') || script.includes('\nflush table') ? 'Error: refused' : undefined;
  write(config(82));
  const r = await apply('--json');
  t.is(r.code, EXIT.ok, r.stderr);
  t.is(JSON.parse(r.stdout).persistence, 'dropped');
  t.regex(exec.loads().at(-1)!, /^delete table inet nftlb$/m);
});

test('a config without persistence reloads in place without the entry maps and says the entries were dropped', async (t) => {
  const { exec, apply, write } = await setup();
  write(config(81, ''));
  const r = await apply();
  t.is(r.code, EXIT.ok);
  t.regex(r.stderr, /; persistence entries dropped\n$/);
  const script = exec.loads().at(-1)!;
  t.regex(script, /^delete map inet nftlb persist4$/m);
  t.notRegex(script, /^delete table inet nftlb$/m);
  write(config(82, ''));
  const plain = await apply('--json');
  t.false('persistence' in JSON.parse(plain.stdout), 'nothing to say without persistence');
});

test('diff names a persistence change in config terms', async (t) => {
  const { s, exec, write } = await setup();
  write(config(81, '    persistence: { netmask: 24, timeout: 60 }\n'));
  const r = await runCommand(diffCommand, ['-c', s.config, '--lock-file', s.lock, '--json'], exec, {
    NFTLB_STATE_DIR: s.dir,
  });
  t.is(r.code, EXIT.differs, r.stderr);
  t.deepEqual(JSON.parse(r.stdout).changes, [
    {
      kind: 'service-changed',
      service: 'web',
      field: 'persistence',
      from: 'timeout 300s, key saddr, netmask 24/64, size 65536',
      to: 'timeout 60s, key saddr, netmask 24/64, size 65536',
    },
  ]);
});

test('a delta keeps the entry maps and their entries, or says they were dropped when the config has no persistence', async (t) => {
  const { exec, apply, write } = await setup();
  write(config(82), true);
  const kept = JSON.parse((await apply('--json')).stdout) as { persistence: string; load: { form: string } };
  t.deepEqual([kept.load.form, kept.persistence], ['delta', 'kept']);
  t.notRegex(exec.loads().at(-1)!, /persist(4|6)\b/, 'the delta does not touch the entry maps');
  write(config(82, ''), true);
  const dropped = JSON.parse((await apply('--json')).stdout) as { persistence: string; load: { form: string } };
  t.deepEqual([dropped.load.form, dropped.persistence], ['delta', 'dropped']);
  t.regex(exec.loads().at(-1)!, /^delete map inet nftlb persist4$/m);
});
