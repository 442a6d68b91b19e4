import test from 'ava';
import { parseConfigText } from '../../src/config/parse.js';
import { checkConfig } from '../../src/config/read.js';
import { decodeConfig } from '../../src/config/decode.js';

// JSON.parse keeps the last of two equal keys silently; the loader must still report the duplicate with its line, also
// when the quick colon count cannot decide (colons inside strings) and when strings hold escaped quotes.
const dup = test.macro((t, text: string, line: number) => {
  const d = parseConfigText('lb.json', text);
  t.is(d.value, undefined);
  t.deepEqual(
    d.diagnostics.map((x) => [x.code, x.line]),
    [['parse.duplicate-key', line]],
  );
});
const clean = test.macro((t, text: string) => {
  const d = parseConfigText('lb.json', text);
  t.deepEqual(d.diagnostics, []);
  t.deepEqual(d.value, JSON.parse(text));
});

test('duplicate key, IPv4 only', dup, '{\n "table": "a",\n "services": [],\n "table": "b"\n}\n', 4);
test('duplicate key beside IPv6 addresses', dup, '{\n "vip": "2001:db8::1",\n "x": 1,\n "x": 2\n}\n', 4);
test('duplicate key after a string with an escaped quote', dup, '{\n "a": "q\\":",\n "b": 1,\n "b": 2\n}\n', 4);
test('no duplicate, colons in strings', clean, '{ "vip": "2001:db8::1", "services": [{ "vip": "::1" }] }');
test('no duplicate, same key in sibling objects', clean, '{ "s": [{ "name": "a" }, { "name": "b" }] }');

test('a byte order mark before JSON is read as a blank; lines and errors stay where they are in the file', (t) => {
  const ok = parseConfigText('bom.json', '\ufeff{\n "table": "a",\n "services": []\n}\n');
  t.deepEqual(ok.diagnostics, []);
  t.deepEqual(ok.value, { table: 'a', services: [] });
  t.deepEqual(ok.locate(['/services']), [3]);
  const bad = parseConfigText('bom.json', '\ufeff{\n "table": "a",\n "services": [,]\n}\n');
  t.is(bad.diagnostics[0]?.line, 3);
  t.regex(bad.diagnostics[0]?.message ?? '', /invalid JSON at column 15/);
  t.is(parseConfigText('bom.json', '\ufeff').diagnostics[0]?.code, 'parse.empty');
});

// The same duplicate in JSON, in YAML read by the `yaml` parser, and in YAML over 1 MiB (js-yaml alone): each names the
// key, its mapping's path and both lines.
test('a key given twice is named with its mapping and both lines, in JSON and YAML alike', (t) => {
  const service = (i: number): string =>
    `  - name: s${i}\n    vip: 203.0.113.1\n    port: ${1000 + i}\n    backends:\n      - address: 198.51.100.2\n`;
  const yaml = (n: number): string => {
    const rows = ['services:'];
    for (let i = 0; i < n; i++) rows.push(service(i).trimEnd());
    // The last service's backend gives weight twice.
    rows.push('        weight: 2', '        weight: 3');
    return `${rows.join('\n')}\n`;
  };
  const json = (n: number): string => {
    const rows = ['{"services": ['];
    for (let i = 0; i < n; i++)
      rows.push(
        `{"name": "s${i}", "vip": "203.0.113.1", "port": ${1000 + i},`,
        ` "backends": [{"address": "198.51.100.2"${i === n - 1 ? ',\n  "weight": 2,\n  "weight": 3' : ''}}]}${i === n - 1 ? '' : ','}`,
      );
    rows.push(']}');
    return `${rows.join('\n')}\n`;
  };
  for (const [file, text] of [
    ['small.yaml', yaml(3)],
    ['large.yaml', yaml(12_000)],
    ['small.json', json(3)],
  ] as const) {
    const n = file.startsWith('large') ? 12_000 : 3;
    const second = text.slice(0, text.lastIndexOf('"weight"') + 1).split('\n').length;
    const secondYaml = text.slice(0, text.lastIndexOf('weight:') + 1).split('\n').length;
    const d = parseConfigText(file, text);
    t.true(file !== 'large.yaml' || text.length > 1024 * 1024, file);
    t.deepEqual(
      d.diagnostics.map((x) => [x.line, x.path, x.code, x.message]),
      [
        [
          file.endsWith('.json') ? second : secondYaml,
          `/services/${n - 1}/backends/0`,
          'parse.duplicate-key',
          `key "weight" given twice (first on line ${(file.endsWith('.json') ? second : secondYaml) - 1}); a key may appear only once there`,
        ],
      ],
      file,
    );
  }
  // At the top level the path is the document's; the yaml parser's reading of 1 and "1" as two keys is not the value's.
  t.deepEqual(
    parseConfigText('lb.yaml', 'a: 1\nb:\n  - {1: x, "1": y}\n').diagnostics.map((x) => [x.line, x.path, x.message]),
    [[3, '/b/0', 'key "1" given twice (first on line 3); a key may appear only once there']],
  );
  // The yaml parser placed this one on the line before the key.
  t.deepEqual(
    parseConfigText('lb.yaml', 'a:\n b: 1\n b: 2\n').diagnostics.map((x) => [x.line, x.path]),
    [[3, '/a']],
  );
  t.deepEqual(
    parseConfigText('lb.json', '{"table": "a",\n"table": "b"}').diagnostics.map((x) => [x.line, x.path]),
    [[2, '']],
  );
});

// Old Mac OS files end lines with a lone CR, which YAML and JSON take as a line break: each problem is on its line.
test('CR and CRLF line ends give the lines, values and diagnostics of LF, in YAML and JSON', (t) => {
  const yaml =
    'services:\n  - name: a\n    vip: 203.0.113.1\n    port: 80\n    wieght: 2\n    backends:\n      - address: 198.51.100.2\n';
  const cases: [string, string][] = [
    ['lb.yaml', yaml],
    ['lb.yaml', `${yaml}        weight: 1\n        weight: 2\n`],
    ['lb.yaml', `${yaml}      - [\n`],
    ['lb.yaml', `table: "a\n  b"\n${yaml}`],
    [
      'lb.json',
      '{\n"services": [\n{"name": "a", "vip": "203.0.113.1",\n "port": 80, "wieght": 2,\n "backends": []}]}\n',
    ],
    ['lb.json', '{\n"table": "a",\n"table": "b"\n}\n'],
    ['lb.json', '{\n"services": [\n,]\n}\n'],
  ];
  for (const [file, lf] of cases) {
    const want = checkConfig(file, lf);
    t.true(want.diagnostics.length > 0 && want.diagnostics.some((d) => d.line! > 1), lf);
    for (const eol of ['\r', '\r\n']) {
      const got = checkConfig(file, lf.replace(/\n/g, eol));
      t.deepEqual(got.diagnostics, want.diagnostics, `${JSON.stringify(eol)} ${lf}`);
      t.deepEqual(got.doc.value, want.doc.value, `${JSON.stringify(eol)} ${lf}`);
    }
  }
  const bad = checkConfig('lb.yaml', decodeConfig(Buffer.from('a: 1\rb: "\xe9"\r', 'latin1')));
  t.deepEqual(
    bad.diagnostics.map((d) => [d.line, d.code]),
    [[2, 'parse.encoding']],
  );
});
