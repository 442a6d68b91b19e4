import test from 'ava';
import fc from 'fast-check';
import jsyaml from 'js-yaml';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../src/config/parse.js';
import { YAML_CORE_SCHEMA } from '../../src/config/yaml-core.js';
import { FIXTURES } from '../support/fixtures.js';

// The fast YAML path (js-yaml with YAML_CORE_SCHEMA) must read every config as the `yaml` parser does, which places
// the diagnostics; a difference would make a value depend on which path read it.
const slow = (text: string): unknown => parseYaml(text, { strict: true, uniqueKeys: true });
const fast = (text: string): unknown => jsyaml.load(text, { schema: YAML_CORE_SCHEMA });

test('plain scalars read the same by both parsers', (t) => {
  const digits = fc.stringOf(fc.constantFrom('0', '1', '7', '8', '9'), { minLength: 1, maxLength: 4 });
  const token = fc.oneof(
    fc.constantFrom('~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'yes', 'no'),
    fc.constantFrom('on', 'off', 'y', 'n', '.inf', '-.Inf', '+.INF', '.nan', '.NaN', '.NAN', '0x', '0o', '0b', '.'),
    fc
      .tuple(
        fc.constantFrom('', '+', '-'),
        fc.constantFrom('', '0x', '0o', '0b', '0X', '0'),
        digits,
        // Two dots (an IPv4 address, a version) are neither an int nor a float.
        fc.constantFrom('', '.', '.5', 'e3', 'E-2', '_1', 'abc', ':30', '.1.2', '..', '.5.', '.0.0.1', '.5e3.1'),
      )
      .map((parts) => parts.join('')),
  );
  fc.assert(
    fc.property(token, (s) => {
      t.deepEqual(fast(`v: ${s}`), slow(`v: ${s}`), s);
    }),
    { numRuns: 3000 },
  );
});

test('explicit core tags read the same by both parsers', (t) => {
  // The implicit types are one resolver (src/config/yaml-core.ts); a tag names each of them on its own.
  for (const s of ['!!int 5', '!!int "0x1F"', '!!str 5', '!!str true', '!!null', '!!null ""', '!!bool "false"']) {
    t.deepEqual(fast(`v: ${s}`), slow(`v: ${s}`), s);
  }
  for (const s of ['!!float 1.5', '!!float "-.5e3"', '!!float .inf', '!!int 0o17', '~', '""', 'Null', 'FALSE']) {
    t.deepEqual(fast(`v: ${s}`), slow(`v: ${s}`), s);
  }
});

test('every fixture config reads the same by both parsers', (t) => {
  let n = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name === 'config.yaml') {
        const text = readFileSync(path, 'utf8');
        let expected: unknown;
        try {
          expected = slow(text);
        } catch {
          continue; // the error fixtures that do not parse
        }
        t.deepEqual(fast(text), expected, path);
        n++;
      }
    }
  };
  walk(FIXTURES);
  t.true(n > 20, `compared ${n} configs`);
});

test('aliases are read, and their expansion is bounded', (t) => {
  const ok = parseConfigText('lb.yaml', 'a: &x [1, 2]\nb: *x\n');
  t.deepEqual(ok.value, { a: [1, 2], b: [1, 2] });
  const rows = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++)
    rows.push(`${'bcdefghi'[i]}: &${'bcdefghi'[i]} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`);
  const bomb = parseConfigText('lb.yaml', `${rows.join('\n')}\n`);
  t.is(bomb.value, undefined);
  t.true(bomb.diagnostics.length > 0);
});

test('a config is YAML 1.2 whatever its %YAML directive: 1.1 is refused on its line, 1.2 read as without one', (t) => {
  // Under YAML 1.1 rules (which the yaml parser follows for the directive) 1:20 is 80, 0100 is 64 and yes is true.
  const text = 'services:\n  - name: a\n    port: 1:20\n    backends: [{address: 198.51.100.2, port: 0100, x: yes}]\n';
  const old = parseConfigText('lb.yaml', `# a comment\n%YAML 1.1\n---\n${text}`);
  t.is(old.value, undefined);
  t.deepEqual(
    old.diagnostics.map((d) => [d.line, d.code]),
    [[2, 'parse.yaml-version']],
  );
  t.regex(
    old.diagnostics[0]!.message,
    /^%YAML 1\.1: nftlb reads a config as YAML 1\.2 \(core schema\).*remove the directive/,
  );
  const plain = parseConfigText('lb.yaml', text);
  t.deepEqual((plain.value as { services: unknown[] }).services[0], {
    name: 'a',
    port: '1:20',
    backends: [{ address: '198.51.100.2', port: 100, x: 'yes' }],
  });
  for (const directive of ['%YAML 1.2\n', '%YAML 1.2\n%TAG !e! tag:example.com,2000:\n']) {
    const d = parseConfigText('lb.yaml', `${directive}---\n${text}`);
    t.deepEqual(d.diagnostics, [], directive);
    t.deepEqual(d.value, plain.value, directive);
  }
});

test('aliases are bounded alike on both paths: 150 uses are read, a "billion laughs" refused by its expansion', (t) => {
  // The `yaml` parser (text with a directive) refused more than 100 alias uses, which js-yaml's path takes.
  const rows = ['a: &b [{address: 198.51.100.2}]'];
  for (let i = 0; i < 150; i++) rows.push(`s${i}: *b`);
  const many = `${rows.join('\n')}\n`;
  const bombRows = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++)
    bombRows.push(`${'bcdefghi'[i]}: &${'bcdefghi'[i]} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`);
  const bomb = `${bombRows.join('\n')}\n`;
  for (const directive of ['', '%YAML 1.2\n---\n']) {
    const ok = parseConfigText('lb.yaml', `${directive}${many}`);
    t.deepEqual(ok.diagnostics, [], directive);
    t.is(Object.keys(ok.value as object).length, 151, directive);
    const b = parseConfigText('lb.yaml', `${directive}${bomb}`);
    t.deepEqual(
      b.diagnostics.map((d) => [d.code, d.message]),
      [['parse.alias', 'aliases expand the document by more than 1000000 values']],
      directive,
    );
    // An alias before its anchor is a diagnostic on its line, not a crash.
    const unset = parseConfigText('lb.yaml', `${directive}a: 1\nb: *x\nc: &x 1\n`);
    t.deepEqual(
      unset.diagnostics.map((d) => [d.code, d.line! - (directive === '' ? 0 : 2)]),
      [['parse.alias', 2]],
      directive,
    );
    const self = parseConfigText('lb.yaml', `${directive}a: &x [1, *x]\n`);
    t.deepEqual(
      self.diagnostics.map((d) => d.code),
      ['parse.alias'],
      directive,
    );
  }
});

test('duplicate keys and syntax errors are placed on their line', (t) => {
  t.deepEqual(
    parseConfigText('lb.yaml', 'table: a\nservices: []\ntable: b\n').diagnostics.map((d) => [d.code, d.line]),
    [['parse.duplicate-key', 3]],
  );
  t.deepEqual(
    parseConfigText('lb.yaml', 'table: a\nservices: [\n').diagnostics.map((d) => [d.code, d.line !== undefined]),
    [['parse.yaml', true]],
  );
});

test('a second YAML document is refused on the line where it starts, by both parsers', (t) => {
  const first = 'services:\n  - name: a\n    vip: 203.0.113.1\n    port: 80\n    backends: [{address: 198.51.100.2}]\n';
  // Over 1 MiB js-yaml reads the file alone; it says there are several documents, but not where.
  const big = `${'#'.repeat(1024 * 1024)}\n${first}`;
  for (const [second, offset] of [
    ['---\nservices: []\n', 0],
    ['...\n# ---\n\n--- # x\nservices: []\n', 3],
    ['...\n# ---\nservices: []\n', 2],
    ['---\n', 0],
  ] as const) {
    for (const head of [first, big]) {
      const d = parseConfigText('lb.yaml', `${head}${second}`);
      const line = head.split('\n').length + offset;
      t.deepEqual(
        d.diagnostics.map((x) => [x.line, x.code, x.message]),
        [
          [
            line,
            'parse.multiple-documents',
            `a config is one YAML document, and a second one starts on line ${line}; remove it, or give each config a file of its own`,
          ],
        ],
        `${head.length} ${JSON.stringify(second)}`,
      );
    }
  }
});
