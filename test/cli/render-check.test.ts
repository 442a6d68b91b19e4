import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/common/version.js';
import { writePieces } from '../../src/cli/io.js';
import { cli } from '../support/cli.js';
import { FIXTURES, fixtureConfig } from '../support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'nftlb-cli-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const good = write(
  'good.yaml',
  'services:\n  - name: web\n    vip: 203.0.113.1\n    port: 80\n    backends:\n      - { address: 198.51.100.2, port: 8080 }\n      - { address: 198.51.100.3, port: 8080 }\n',
);
const bad = write(
  'bad.yaml',
  'services:\n  - name: web\n    vip: 203.0.113.1\n    port: 80\n    backends:\n      - { address: 198.51.100.2, port: 0 }\n      - { adress: 198.51.100.3 }\n',
);

test('render prints the script on stdout and nothing on stderr', async (t) => {
  const r = await cli(['render', '-c', good]);
  t.is(r.code, 0);
  t.is(r.stderr, '');
  t.regex(r.stdout, /^#!\/usr\/sbin\/nft -f\n/);
  t.regex(r.stdout, /\ntable inet nftlb \{\}\ndelete table inet nftlb\ntable inet nftlb \{\n/);
});

test('same config gives a byte-identical script', async (t) => {
  const a = await cli(['render', '-c', good]);
  const b = await cli(['render', '--config', good]);
  t.is(a.stdout, b.stdout);
});

test('render of an invalid config prints nothing on stdout, every problem on stderr, exit 3', async (t) => {
  const r = await cli(['render', '-c', bad]);
  t.is(r.code, 3);
  t.is(r.stdout, '');
  t.regex(r.stderr, /bad\.yaml:6: services\[0\]\.backends\[0\]\.port: expected a value >= 1 \[schema\.minimum\]/);
  t.regex(r.stderr, /bad\.yaml:7: services\[0\]\.backends\[1\]\.adress: unknown key "adress"/);
  t.regex(r.stderr, /bad\.yaml:7: services\[0\]\.backends\[1\]: missing required key "address"/);
  t.regex(r.stderr, /3 errors; nothing was changed/);
});

test('check: exit 0 for a valid config, 3 with all diagnostics otherwise, --json for tools', async (t) => {
  const ok = await cli(['check', '-c', good]);
  t.is(ok.code, 0);
  t.regex(ok.stderr, /ok \(1 service\)/);
  const ko = await cli(['check', '-c', bad]);
  t.is(ko.code, 3);
  t.is(ko.stdout, '');
  const js = await cli(['check', '-c', bad, '--json']);
  t.is(js.code, 3);
  const parsed = JSON.parse(js.stdout) as {
    valid: boolean;
    diagnostics: { path: string; line: number; code: string }[];
  };
  t.false(parsed.valid);
  t.deepEqual(
    parsed.diagnostics.map((d) => [d.line, d.path, d.code]),
    [
      [6, '/services/0/backends/0/port', 'schema.minimum'],
      [7, '/services/0/backends/1', 'schema.required'],
      [7, '/services/0/backends/1/adress', 'schema.unknown-key'],
    ],
  );
});

test('an unreadable config is exit 4 and names the file; the default path is /etc/nftlb/nftlb.yaml', async (t) => {
  const r = await cli(['render', '-c', join(dir, 'missing.yaml')]);
  t.is(r.code, 4);
  t.regex(r.stderr, /cannot read config .*missing\.yaml: ENOENT/);
  const d = await cli(['check'], { ...process.env });
  if (d.code === 4) t.regex(d.stderr, /\/etc\/nftlb\/nftlb\.yaml/);
  else t.pass('this machine has /etc/nftlb/nftlb.yaml');
});

test('.json configs parse as JSON', async (t) => {
  const j = write(
    'c.json',
    JSON.stringify({
      services: [
        {
          name: 'web',
          vip: '203.0.113.1',
          port: 80,
          backends: [
            { address: '198.51.100.2', port: 8080 },
            { address: '198.51.100.3', port: 8080 },
          ],
        },
      ],
    }),
  );
  const a = await cli(['render', '-c', j]);
  const b = await cli(['render', '-c', good]);
  t.is(a.code, 0);
  t.is(a.stdout, b.stdout);
  // YAML-only syntax in a .json file is a JSON error.
  const y = write('y.json', 'services: []\n');
  const r = await cli(['check', '-c', y]);
  t.is(r.code, 3);
  t.regex(r.stderr, /y\.json:1: \(document\): invalid JSON/);
});

test('a config that is not UTF-8 is exit 3 on the line of the first bad byte (check and render alike)', async (t) => {
  // A Latin-1 "é" in a health command was read as U+FFFD and the config taken: the check ran another path.
  const yaml = Buffer.concat([
    Buffer.from('services:\n  - name: web\n    vip: 203.0.113.1\n    port: 80\n', 'utf8'),
    Buffer.from('    backends: [{ address: 198.51.100.2 }]\n    health: { type: exec, command: "/usr/bin/chk', 'utf8'),
    Buffer.from([0xe9]),
    Buffer.from('" }\n', 'utf8'),
  ]);
  const json = Buffer.concat([
    Buffer.from('{"services": [{"name": "web", "vip": "203.0.113.1", "port": 80,\n', 'utf8'),
    Buffer.from(' "backends": [{"address": "198.51.100.2"}],\n "health": {"type": "exec", "command": "/usr/bin/chk'),
    Buffer.from([0xe9]),
    Buffer.from('"}}]}\n', 'utf8'),
  ]);
  for (const [name, bytes, line, column] of [
    ['latin1.yaml', yaml, 6, 49],
    ['latin1.json', json, 3, 53],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    for (const command of ['check', 'render']) {
      const r = await cli([command, '-c', file]);
      t.is(r.code, 3, `${command} ${name}: ${r.stderr}`);
      t.is(r.stdout, '');
      t.regex(
        r.stderr.split('\n')[0]!,
        new RegExp(
          `${name}:${line}: \\(document\\): the file is not UTF-8: byte E9 at column ${column} .*\\[parse\\.encoding\\]$`,
        ),
      );
    }
  }
});

test('usage errors are exit 2; --version and --help exit 0', async (t) => {
  t.is((await cli(['render', '--bogus'])).code, 2);
  t.is((await cli(['frobnicate'])).code, 2);
  const v = await cli(['--version']);
  t.is(v.code, 0);
  t.is(v.stdout.trim(), VERSION);
  const h = await cli(['render', '--help']);
  t.is(h.code, 0);
  t.regex(h.stdout, /--config <file>/);
});

test('the bundled executable runs on its own', async (t) => {
  const bundle = resolve(dirname(fileURLToPath(import.meta.url)), '../../nftlb.mjs');
  const v = await execa('node', [bundle, '--version'], { reject: false });
  t.is(v.exitCode, 0, `${bundle}: ${v.stderr}`);
  // The bundle names its build (semver build metadata): what its records are trusted by.
  t.regex(v.stdout.trim(), new RegExp(`^${VERSION.replace(/\./g, '\\.')}\\+[0-9a-f]{12}$`));
  const r = await execa('node', [bundle, 'render', '-c', good], { reject: false });
  t.is(r.exitCode, 0);
  t.is(r.stdout + '\n', (await cli(['render', '-c', good])).stdout);
  const ko = await execa('node', [bundle, 'render', '-c', bad], { reject: false });
  t.is(ko.exitCode, 3);
  t.is(ko.stdout, '');
});

// The bundle validates with ajv's standalone code, compiled when it was built; the diagnostics must be those of the
// validator compiled at run time (what every other test uses), for every error fixture.
test('the bundled validator reports what the run-time one reports', async (t) => {
  const bundle = resolve(dirname(fileURLToPath(import.meta.url)), '../../nftlb.mjs');
  const errors = join(FIXTURES, '_error_');
  const cases = readdirSync(errors).filter((c) => fixtureConfig(join(errors, c)) !== undefined);
  t.true(cases.length >= 10);
  for (const c of cases) {
    const config = join(errors, c, fixtureConfig(join(errors, c))!);
    const b = await execa('node', [bundle, 'check', '--json', '-c', config], { reject: false });
    const r = await cli(['check', '--json', '-c', config]);
    t.is(b.exitCode, r.code, c);
    t.is(b.stdout.trim(), r.stdout.trim(), c);
  }
});

test('writePieces splits long text without splitting a surrogate pair', (t) => {
  const text = `${'a'.repeat((1 << 20) - 1)}😀${'b'.repeat(1 << 20)}`;
  const pieces: string[] = [];
  writePieces((p) => pieces.push(p), text);
  t.is(pieces.join(''), text);
  t.true(pieces.length >= 3);
  t.true(pieces.every((p) => Buffer.from(p, 'utf8').toString('utf8') === p));
});
