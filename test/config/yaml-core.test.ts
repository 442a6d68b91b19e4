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

test('a %YAML 1.1 directive is honoured (by the yaml parser)', (t) => {
  const d = parseConfigText('lb.yaml', '%YAML 1.1\n---\nv: 0b101\n');
  t.deepEqual(d.value, slow('%YAML 1.1\n---\nv: 0b101\n'));
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
