import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_PRINTED } from '../../src/cli/io.js';
import { MAX_CONFIG_BYTES } from '../../src/config/limits.js';
import { cli } from '../support/cli.js';

// What the CLI makes of configs that are not files, too large, empty or full of mistakes: a documented exit code, a
// message that names the file, nothing on stdout, and no wait.
const dir = mkdtempSync(join(tmpdir(), 'nftlb-hostile-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const refused = test.macro(async (t, path: string, why: RegExp) => {
  for (const cmd of [['check'], ['render'], ['check', '--json']]) {
    const r = await cli([...cmd, '-c', path]);
    t.is(r.code, 4, `${cmd.join(' ')}: ${r.stderr}`);
    // Nothing on stdout but, with --json, the error envelope.
    if (cmd.includes('--json'))
      t.like(JSON.parse(r.stdout), { command: 'check', result: 'error', exitCode: 4, error: { code: 'config-read' } });
    else t.is(r.stdout, '');
    t.regex(r.stderr, why);
  }
});

test(
  'a FIFO without a writer is refused at once',
  refused,
  (() => {
    const p = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [p]);
    return p;
  })(),
  /cannot read config .*fifo\.yaml: not a regular file \(a FIFO\)/,
);
test('/dev/zero is refused at once', refused, '/dev/zero', /not a regular file \(a character device\)/);
test(
  '-c - (no file of that name) is refused with what to do instead',
  refused,
  '-',
  /cannot read config -: a config is read from a file, not from standard input; write it to a file and give that path/,
);
test('/dev/urandom is refused at once', refused, '/dev/urandom', /not a regular file \(a character device\)/);
test(
  'a directory is refused',
  refused,
  (() => {
    const p = join(dir, 'conf.d');
    mkdirSync(p);
    return p;
  })(),
  /not a regular file \(a directory\)/,
);
test(
  'a file over the size limit is refused before it is read',
  refused,
  (() => {
    const p = write('huge.yaml', '');
    truncateSync(p, MAX_CONFIG_BYTES + 1); // sparse: no disk used
    return p;
  })(),
  /huge\.yaml: it is 33554433 bytes; a config may be at most 33554432 bytes \(32 MiB\)/,
);

test('an empty file is exit 3 with a diagnostic at line 1', async (t) => {
  const p = write('empty.yaml', '');
  const r = await cli(['check', '-c', p]);
  t.is(r.code, 3);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^.*empty\.yaml:1: \(document\): the file is empty \(no YAML document\); .* \[parse\.empty\]\n/);
});

test('deep nesting is exit 3 with a diagnostic, in JSON and YAML', async (t) => {
  for (const [name, text] of [
    ['deep.json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['deep.yaml', `${'- '.repeat(100_000)}1\n`],
  ] as const) {
    const r = await cli(['render', '-c', write(name, text)]);
    t.is(r.code, 3, r.stderr);
    t.is(r.stdout, '');
    t.regex(r.stderr, new RegExp(`${name.replace('.', '\\.')}:1: \\(document\\): nested deeper than 64 levels`));
  }
});

test(`at most ${MAX_PRINTED} diagnostics are printed, then how many more; --json has them all`, async (t) => {
  const services = Array.from({ length: 300 }, (_, i) => `  - { name: s${i}, vip: 203.0.113.1, port: ${i + 1}, x: 1 }`);
  const p = write('many.yaml', `services:\n${services.join('\n')}\n`);
  const r = await cli(['check', '-c', p]);
  t.is(r.code, 3);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.filter((l) => /^.*many\.yaml:\d+: /.test(l)).length, MAX_PRINTED);
  // 300 services: each an unknown key and a missing "backends".
  t.regex(r.stderr, new RegExp(`many\\.yaml: and ${600 - MAX_PRINTED} more \\(nftlb check --json lists them all\\)`));
  t.regex(lines[lines.length - 1]!, /many\.yaml: 600 errors$/);
  const js = await cli(['check', '--json', '-c', p]);
  t.is((JSON.parse(js.stdout) as { diagnostics: unknown[] }).diagnostics.length, 600);
  const render = await cli(['render', '-c', p]);
  t.is(render.code, 3);
  t.regex(render.stderr, /600 errors; nothing was changed\n$/);
});

test('checking stops at 10,000 problems and the summary says so', async (t) => {
  const p = write('stop.json', `{"services": [${Array(20_000).fill('{}').join(',')}]}`);
  const r = await cli(['check', '-c', p]);
  t.is(r.code, 3);
  t.regex(r.stderr, /stop\.json: at least 10000 errors \(checking stopped there\)\n$/);
});

test('keys and values with line breaks, escape sequences or bidi controls are escaped in the one-line diagnostics', async (t) => {
  // A "\n" forged a second diagnostic line, "\e]0;...\a" set the terminal's title, U+202E turned the line around.
  const yaml = write(
    'esc.yaml',
    'services:\n  - name: a\n    vip: "203.0.113.1\\u202e"\n    port: 80\n    "bad\\e]0;t\\a": 1\n' +
      '    backends: [{address: "198.51.100.2\\nlb.yaml:1: forged [x]"}, {address: "\\e[2J\\r\\t\\x85"}]\n',
  );
  const json = write(
    'esc.json',
    JSON.stringify({
      services: [
        {
          name: 'a',
          vip: '203.0.113.1\u202e',
          port: 80,
          'bad\u001b]0;t\u0007': 1,
          backends: [{ address: '198.51.100.2\nlb.yaml:1: forged [x]' }, { address: '\u001b[2J\r\t\u0085' }],
        },
      ],
    }),
  );
  for (const file of [yaml, json]) {
    const r = await cli(['check', '-c', file]);
    t.is(r.code, 3);
    // One line per diagnostic, and the summary.
    const j = JSON.parse((await cli(['check', '--json', '-c', file])).stdout) as { diagnostics: { message: string }[] };
    const lines = r.stderr.trimEnd().split('\n');
    t.is(lines.length, j.diagnostics.length + 1, r.stderr);
    // Every line is printable ASCII.
    t.true(
      lines.every((l) => /^[ -~]*$/.test(l)),
      r.stderr,
    );
    t.regex(r.stderr, /services\[0\]\.vip: .*got "203\.0\.113\.1\\u202e" \[address\.invalid\]/);
    t.regex(r.stderr, /services\[0\]\.bad\\u001b\]0;t\\u0007: unknown key "bad\\u001b\]0;t\\u0007"/);
    t.regex(r.stderr, /got "198\.51\.100\.2\\nlb\.yaml:1: forged \[x\]" \[address\.invalid\]/);
    t.regex(r.stderr, /got "\\u001b\[2J\\r\\t\\u0085" \[address\.invalid\]/);
    // --json keeps the exact text.
    t.true(j.diagnostics.some((d) => d.message.includes('"198.51.100.2\nlb.yaml:1: forged [x]"')));
  }
});
