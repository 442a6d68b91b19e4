import { readFileSync } from 'node:fs';
import test from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cli } from '../support/cli.js';

// The shipped templates stay in step with the CLI: the default config is valid and every apply line of the units and
// the cron example parses (run as --dry-run against the default config, which touches nothing).

test('templates/nftlb.yaml, the default config, is valid', async (t) => {
  const r = await cli(['check', '-c', 'templates/nftlb.yaml']);
  t.is(r.code, EXIT.ok, r.stderr);
});

// The units take the config file and extra options from /etc/default/nftlb: expand them as systemd does, with the values
// the package installs (templates/nftlb.default).
const defaults = new Map(
  [...readFileSync('templates/nftlb.default', 'utf8').matchAll(/^([A-Z_]+)="?([^"\n]*)"?$/gm)].map((m) => [m[1], m[2]]),
);
const expand = (line: string): string => line.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => defaults.get(a ?? b) ?? '');

for (const file of ['nftlb.service', 'nftlb-reload.service', 'nftlb.cron']) {
  test(`the apply command lines of templates/${file} are valid`, async (t) => {
    const lines = readFileSync(`templates/${file}`, 'utf8')
      .split('\n')
      .filter((l) => /\/usr\/bin\/nftlb apply /.test(l) && !l.startsWith('#'))
      .map(expand);
    t.true(lines.length > 0);
    for (const l of lines) {
      const args = (l.split('/usr/bin/nftlb ')[1] ?? '')
        .trim()
        .split(/\s+/)
        .map((a) => (a === '/etc/nftlb/nftlb.yaml' ? 'templates/nftlb.yaml' : a));
      const r = await cli([...args, '--dry-run'], { ...process.env, NFTLB_STATE_DIR: '/nonexistent' });
      t.is(r.code, EXIT.ok, `${l}: ${r.stderr}`);
      t.regex(r.stdout, /^#!\/usr\/sbin\/nft -f\n/);
    }
  });
}

// What /etc/default/nftlb tells the operator to run after a change: for nftlb.service a reload, which is an apply (the
// table updated in place, its persistence entries kept), never a restart, which runs its stop (the table removed);
// nftlb-health.service reads its options at start, so a restart.
test('templates/nftlb.default advises the systemctl verb that takes a change without removing the table', (t) => {
  const advice = [...readFileSync('templates/nftlb.default', 'utf8').matchAll(/`systemctl (\w+) ([\w.-]+)`/g)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  t.deepEqual(advice, ['reload nftlb.service', 'restart nftlb-health.service']);
  const unit = readFileSync('templates/nftlb.service', 'utf8');
  t.regex(unit, /^ExecReload=\/usr\/bin\/nftlb apply /m);
  t.regex(unit, /^ExecStop=\/usr\/bin\/nftlb remove /m);
  t.regex(readFileSync('templates/nftlb-health.service', 'utf8'), /^ExecStart=\/usr\/bin\/nftlb health --watch /m);
});
