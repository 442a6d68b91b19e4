import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { parseConfigText } from '../../src/config/parse.js';
import { FIXTURES } from '../support/fixtures.js';
import { checkConfig, STOPPED_CODE } from '../../src/config/read.js';
import { MAX_NESTING, MAX_PROBLEMS } from '../../src/config/limits.js';
import { NFT_TABLE_KEYWORDS } from '../../src/nft/keywords.js';
import { MAX_NAME_LENGTH } from '../../src/nft/names.js';
import { MAX_TABLE_NAME_LENGTH, ownedTableRefs, tableNameProblem } from '../../src/nft/tables.js';
import { configSchema } from '../../src/config/schema.js';

// Hostile or unusual input: each case gets diagnostics with a line, never an exception.
const found = (file: string, text: string): string[] =>
  checkConfig(file, text).diagnostics.map((d) => `${d.line}:${d.path}:${d.code}`);

const SERVICE = 'services:\n  - { name: web, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n';

test('table names: the keywords nft 1.0.6 refuses are refused at check time, with the line', (t) => {
  for (const word of ['size', 'add', 'delete', 'flush', 'interval', 'update', 'dynamic', 'timeout', 'monitor']) {
    t.true(NFT_TABLE_KEYWORDS.includes(word), word);
    t.deepEqual(found('lb.yaml', `table: ${word}\n${SERVICE}`), ['1:/table:table.keyword'], word);
  }
});

test('table names: what nft takes is taken, the rest refused', (t) => {
  for (const name of ['lb-2', 'lb_2', '_x', '.x', 'a.b', 'a..b', 'SIZE', 'x'.repeat(MAX_TABLE_NAME_LENGTH)]) {
    const c = checkConfig('lb.yaml', `table: "${name}"\n${SERVICE}`);
    t.is(c.model?.table, name, name);
  }
  t.deepEqual(found('lb.yaml', `table: "a/b"\n${SERVICE}`), ['1:/table:table.name']);
  t.deepEqual(found('lb.yaml', `table: "9lb"\n${SERVICE}`), ['1:/table:table.name']);
  t.deepEqual(found('lb.yaml', `table: "."\n${SERVICE}`), ['1:/table:table.name']);
  t.deepEqual(found('lb.yaml', `table: "${'x'.repeat(243)}"\n${SERVICE}`), ['1:/table:schema.max-length']);
});

test('table names: the DSR table <name>_dsr must be a name too, so the schema, check and remove stop at 238', (t) => {
  t.is(configSchema.properties.table.maxLength as number, MAX_TABLE_NAME_LENGTH);
  t.is(MAX_TABLE_NAME_LENGTH + '_dsr'.length, MAX_NAME_LENGTH);
  for (const n of [MAX_TABLE_NAME_LENGTH + 1, MAX_NAME_LENGTH]) {
    const c = checkConfig('lb.yaml', `table: "${'x'.repeat(n)}"\n${SERVICE}`);
    t.deepEqual(
      c.diagnostics.map((d) => `${d.line}:${d.path}:${d.code}`),
      ['1:/table:schema.max-length'],
      String(n),
    );
    t.regex(c.diagnostics[0]!.message, /at most 238 characters .*NAME_dsr may have at most 242/);
    t.regex(tableNameProblem('x'.repeat(n)) ?? '', /longer than 238 characters: .*"<name>_dsr".* at most 242/);
  }
  // What check takes, every command can name: the inet table and the DSR one.
  const name = 'x'.repeat(MAX_TABLE_NAME_LENGTH);
  t.is(tableNameProblem(name), undefined);
  t.is(ownedTableRefs(name)[1]?.name as string | undefined, `${name}_dsr`);
});

const nestedJson = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
const nestedYaml = (n: number): string => `${'- '.repeat(n)}1\n`;

test('nesting: 100,000 levels of JSON or YAML are a diagnostic on a line, not a stack overflow', (t) => {
  for (const [file, text] of [
    ['deep.json', nestedJson(100_000)],
    ['deep.json', `{"services": ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`],
    ['deep.json', `{"x": [${'['.repeat(100_000)}`], // not even JSON
    ['deep.yaml', nestedYaml(100_000)],
    ['deep.yaml', `${'['.repeat(100_000)}${']'.repeat(100_000)}\n`],
    ['deep.yaml', `a: ${'{a: '.repeat(100_000)}1${'}'.repeat(100_000)}\n`],
  ] as const) {
    t.deepEqual(found(file, text), ['1::parse.too-deep'], `${file} ${text.slice(0, 20)}`);
  }
});

test('nesting: the limit is the same for JSON and YAML, exactly MAX_NESTING', (t) => {
  // A value inside MAX_NESTING lists is fine (the schema then refuses the list); one more level is not.
  const ok = (text: string, file: string): boolean => !found(file, text).some((d) => d.endsWith('parse.too-deep'));
  const json = (n: number): string => `${'['.repeat(n)}1${']'.repeat(n)}`;
  const yaml = (n: number): string => `${'['.repeat(n)}1${']'.repeat(n)}\n`;
  t.true(ok(json(MAX_NESTING), 'a.json'));
  t.false(ok(json(MAX_NESTING + 1), 'a.json'));
  t.true(ok(yaml(MAX_NESTING), 'a.yaml'));
  t.false(ok(yaml(MAX_NESTING + 1), 'a.yaml'));
  // An empty list at the limit holds no value deeper than it.
  t.true(ok(`${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`, 'a.json'));
});

test('nesting: the line is where the document goes past the limit', (t) => {
  const text = `{\n"services": [\n${'[\n'.repeat(70)}1\n${']\n'.repeat(70)}]}\n`;
  // The root object is level 1, services 2: the list that opens at line 2 + 63 holds the first value too deep.
  t.deepEqual(found('a.json', text), [`${2 + MAX_NESTING}::parse.too-deep`]);
});

test('an empty document says that the file is empty, at line 1', (t) => {
  for (const [file, text] of [
    ['a.yaml', ''],
    ['a.yaml', '\n\n# only a comment\n'],
    ['a.yaml', '---\n'],
    ['a.json', ''],
    ['a.json', ' \n\n'],
  ] as const) {
    const c = checkConfig(file, text);
    t.deepEqual(
      c.diagnostics.map((d) => [d.line, d.code]),
      [[1, 'parse.empty']],
      JSON.stringify(text),
    );
    t.regex(c.diagnostics[0]!.message, /the file is empty/);
  }
});

test('every problem at once: semantic rules run on the services whose shape is valid', (t) => {
  const yaml = [
    'services:',
    '  - name: web', // 2
    '    vip: [203.0.113.1, "2001:db8:1::1"]',
    '    port: 80',
    '    backends:', // 5
    '      - { address: 198.51.100.2, wieght: 2 }', // 6: unknown key, and no IPv6 backend
    '  - name: bad', // 7
    '    vip: 203.0.113.1',
    '    port: 70000', // 9: schema error: this service is left out of the rules
    '    backends: [{ address: 198.51.100.3 }]',
    '  - name: dns', // 11
    '    vip: 203.0.113.1',
    '    port: 80', // 13: overlaps web
    '    backends: [{ address: 198.51.100.300 }]', // 14: not an address
  ].join('\n');
  t.deepEqual(found('a.yaml', yaml), [
    '6:/services/0/backends/0/wieght:schema.unknown-key',
    '6:/services/0/backends:family.no-backend',
    '9:/services/1/port:schema.one-of',
    '13:/services/2/port:service.listener-overlap',
    '14:/services/2/backends/0/address:address.invalid',
  ]);
  // The same mistakes in JSON give the same diagnostics on the same lines.
  const json = [
    '{"services": [',
    '  {"name": "web",',
    '   "vip": ["203.0.113.1", "2001:db8:1::1"],',
    '   "port": 80,',
    '   "backends":',
    '      [{"address": "198.51.100.2", "wieght": 2}]},',
    '  {"name": "bad",',
    '   "vip": "203.0.113.1",',
    '   "port": 70000,',
    '   "backends": [{"address": "198.51.100.3"}]},',
    '  {"name": "dns",',
    '   "vip": "203.0.113.1",',
    '   "port": 80,',
    '   "backends": [{"address": "198.51.100.300"}]}]}',
  ].join('\n');
  t.deepEqual(found('a.json', json), found('a.yaml', yaml));
});

test('an invalid top level runs no semantic rule, an invalid table name falls back for the rules', (t) => {
  t.deepEqual(found('a.yaml', 'services: 1\n'), ['1:/services:schema.type']);
  t.deepEqual(found('a.yaml', `table: 7\n${SERVICE}  - { name: web, vip: 203.0.113.1, port: 80, backends: [] }\n`), [
    '1:/table:schema.type',
    '4:/services/1/name:service.duplicate-name',
    '4:/services/1/port:service.listener-overlap',
    '4:/services/1/backends:service.no-backends',
  ]);
});

test('checking stops at MAX_PROBLEMS problems, and says so', (t) => {
  const text = `{"services": [${Array(MAX_PROBLEMS).fill('{}').join(',')}]}`;
  const c = checkConfig('a.json', text);
  t.true(c.stopped);
  t.true(c.diagnostics.length <= MAX_PROBLEMS + 1);
  t.is(c.diagnostics[c.diagnostics.length - 1]!.code, STOPPED_CODE);
  t.true(c.diagnostics.every((d) => d.line === 1));
});

test('unknown keys in bulk are bounded: one object with 200,000 keys', (t) => {
  const keys = Array.from({ length: 200_000 }, (_, i) => `"k${i}": 1`).join(',\n');
  const c = checkConfig('a.json', `{\n${keys}\n}`);
  t.true(c.stopped);
  t.is(c.diagnostics.length, MAX_PROBLEMS + 1);
  t.is(c.diagnostics[0]!.line, 2);
  t.is(c.diagnostics[1]!.line, 3);
});

test('lists past their limit are reported once, not item by item', (t) => {
  const vips = Array(100_000).fill('1').join(', ');
  const c = checkConfig('a.yaml', `services:\n  - { name: a, vip: [${vips}], port: 80, backends: [] }\n`);
  t.false(c.stopped);
  t.true(c.diagnostics.length < 2000, `${c.diagnostics.length} diagnostics`);
  t.true(c.diagnostics.some((d) => d.code === 'schema.max-items' && d.path === '/services/0/vip'));
});

test('a key of a megabyte is cut in its message', (t) => {
  const c = checkConfig('a.yaml', `${'k'.repeat(1 << 20)}: 1\n${SERVICE}`);
  t.deepEqual(
    c.diagnostics.map((d) => [d.line, d.path, d.code]),
    [[1, '', 'schema.unknown-key']],
  );
  t.true(c.diagnostics[0]!.message.length < 300);
});

test('YAML aliases: a collection that contains itself, and "billion laughs", are diagnostics', (t) => {
  t.deepEqual(found('a.yaml', 'a: &x [*x]\n'), ['1::parse.alias']);
  const rows = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++)
    rows.push(`${'bcdefghi'[i]}: &${'bcdefghi'[i]} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`);
  t.deepEqual(found('a.yaml', `${rows.join('\n')}\n`), ['1::parse.alias']);
  // A shared health check is fine.
  const shared = `hc: &hc { type: tcp }\n${SERVICE.replace('port: 80,', 'port: 80, health: *hc,')}`;
  t.deepEqual(found('a.yaml', shared), ['1:/hc:schema.unknown-key']);
});

test('diagnostics in a large YAML config are placed without the document model', (t) => {
  const rows = ['services:'];
  for (let i = 0; i < 20_000; i++)
    rows.push(
      `  - name: s${i}`,
      `    vip: 203.0.113.1`,
      `    port: ${1 + i}`,
      '    backends:',
      '      - address: 198.51.100.2',
    );
  rows.push('  - name: late', '    vip: 203.0.113.1', '    port: 1', '    backends:', '      - address: 198.51.100.2');
  const c = checkConfig('big.yaml', `${rows.join('\n')}\n`);
  t.deepEqual(
    c.diagnostics.map((d) => [d.line, d.path, d.code]),
    [[100_004, '/services/20000/port', 'service.listener-overlap']],
  );
});

test('YAML: an empty value is placed on its key, a value on the next line on that line', (t) => {
  const text = 'services:\n  - name: web\n    vip:\n    port: 80\n    backends:\n      - address: 198.51.100.2\n';
  t.deepEqual(found('a.yaml', text), ['3:/services/0/vip:schema.one-of']);
  t.deepEqual(found('a.yaml', 'table:\nservices: []\n'), ['1:/table:schema.type']);
});

// Every JSON pointer of a value (collections and scalars).
function pointers(v: unknown, at = ''): string[] {
  if (v === null || typeof v !== 'object') return [at];
  const out = [at];
  for (const [k, x] of Object.entries(v))
    out.push(...pointers(x, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`));
  return out;
}

// The line the `yaml` parser's document model gives a pointer (what the loader used before, and still uses for text
// with a %-directive): the node, or for a missing one its closest parent; an empty value is its key.
function yamlLibLine(text: string, pointer: string): number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  let node = doc.contents as YamlNode | null;
  for (const seg of pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    let next: YamlNode | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (pair) next = (pair.value as YamlNode | null) ?? (pair.key as YamlNode);
    } else if (isSeq(node)) next = (node.items[Number(seg)] as YamlNode | undefined) ?? null;
    if (next === null) break;
    node = next;
  }
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

test('the YAML line finder agrees with the yaml parser on every node of every fixture config', (t) => {
  let n = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name === 'config.yaml') {
        const text = readFileSync(path, 'utf8');
        const doc = parseConfigText('config.yaml', text);
        if (doc.value === undefined) continue;
        const ps = pointers(doc.value);
        const lines = doc.locate(ps);
        ps.forEach((p, i) => t.is(lines[i], yamlLibLine(text, p), `${path} ${p}`));
        n += ps.length;
      }
    }
  };
  walk(FIXTURES);
  t.true(n > 500, `${n} nodes compared`);
});
