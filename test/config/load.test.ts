import test from 'ava';
import { parseConfigText } from '../../src/config/parse.js';

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
