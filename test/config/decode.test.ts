import test from 'ava';
import fc from 'fast-check';
import { decodeConfig } from '../../src/config/decode.js';
import { checkConfig } from '../../src/config/read.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

// What the CLI checks: a file's bytes, decoded.
const checkBytes = (file: string, b: Uint8Array): ReturnType<typeof checkConfig> => checkConfig(file, decodeConfig(b));

const SERVICE = 'services:\n  - { name: web, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n';
const SERVICE_YAML =
  'services:\n  - name: web\n    vip: 203.0.113.1\n    port: 80\n    backends: [{ address: 198.51.100.2 }]\n';
const SERVICE_JSON =
  '{\n "services": [{ "name": "web", "vip": "203.0.113.1", "port": 80,\n  "backends": [{ "address": "198.51.100.2" }],\n';

test('a file that is not UTF-8 is refused on the line of the first bad byte, YAML and JSON alike', (t) => {
  // A Latin-1 "é" in a health command: Buffer#toString made it U+FFFD, and the check ran another path.
  for (const [file, head, tail, line] of [
    ['lb.yaml', `${SERVICE_YAML}    health: { type: exec, command: "/usr/bin/chk`, '" }\n', 6],
    ['lb.json', `${SERVICE_JSON}  "health": { "type": "exec", "command": "/usr/bin/chk`, '" } }]\n}\n', 4],
  ] as const) {
    const c = checkBytes(file, bytes(head, [0xe9], tail));
    t.is(c.model, undefined, file);
    t.deepEqual(
      c.diagnostics.map((d) => [d.line, d.path, d.code, d.severity]),
      [[line, '', 'parse.encoding', 'error']],
      file,
    );
    const column = head.length - head.lastIndexOf('\n');
    t.regex(
      c.diagnostics[0]!.message,
      new RegExp(`^the file is not UTF-8: byte E9 at column ${column} .*as UTF-8`),
      file,
    );
    // The same text in UTF-8 is a config.
    t.not(checkBytes(file, bytes(head, 'é', tail)).model, undefined, file);
  }
});

test('UTF-16 is named as such; a UTF-8 byte order mark is read as a blank, YAML and JSON alike', (t) => {
  for (const bom of [
    [0xff, 0xfe],
    [0xfe, 0xff],
  ]) {
    const utf16 = Buffer.from(SERVICE, 'utf16le');
    const d = decodeConfig(bytes(bom, [...(bom[0] === 0xff ? utf16 : utf16.swap16())]));
    t.true('problem' in d);
    if ('problem' in d) {
      t.is(d.problem.line, 1);
      t.regex(d.problem.message, /^the file is UTF-16 \(it starts with the byte order mark (FF FE|FE FF)\), not UTF-8/);
    }
  }
  t.not(checkBytes('lb.yaml', bytes([0xef, 0xbb, 0xbf], SERVICE)).model, undefined);
  const json = `{"services": [{ "name": "web", "vip": "203.0.113.1", "port": 80, "backends": [{ "address": "198.51.100.2" }] }]}`;
  t.not(checkBytes('lb.json', bytes([0xef, 0xbb, 0xbf], json)).model, undefined);
});

// The line and column of each kind of bad sequence, anywhere in a file, also across the decoder's 64 KiB chunks.
test('the first bad byte is found wherever it is: stray, overlong, surrogate, cut characters', (t) => {
  const bad = fc.constantFrom(
    [0xff],
    [0x80], // a continuation byte alone
    [0xc0, 0xaf], // overlong '/'
    [0xed, 0xa0, 0x80], // a UTF-16 surrogate
    [0xe2, 0x82], // a character cut short ...
    [0xf0, 0x9f, 0x98], // ... of 3 and 4 bytes
  );
  const line = fc.stringOf(fc.constantFrom('a', ' ', ':', 'é', '€', '😀', '\ufffd'), { maxLength: 30 });
  fc.assert(
    fc.property(
      fc.array(line, { minLength: 1, maxLength: 5 }),
      fc.array(line, { maxLength: 5 }),
      fc.nat(70_000),
      bad,
      fc.boolean(),
      (before, after, pad, seq, atEnd) => {
        const padding = `#${'x'.repeat(pad)}\n`;
        const head = `${padding}${before.join('\n')}`;
        const input = bytes(head, seq, atEnd ? '' : `\n${after.join('\n')}\n`);
        const d = decodeConfig(input);
        if (!('problem' in d)) return false;
        const lastLine = head.slice(head.lastIndexOf('\n') + 1);
        const hex = seq[0]!.toString(16).toUpperCase();
        return (
          d.problem.line === head.split('\n').length &&
          d.problem.message.includes(`byte ${hex} at column ${Buffer.byteLength(lastLine) + 1} `)
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('a character cut or refused at the edge of a 64 KiB chunk is placed on its byte', (t) => {
  for (let pad = 65_530; pad <= 65_540; pad++)
    for (const seq of [[0xff], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80]]) {
      const d = decodeConfig(bytes(`${'x'.repeat(pad)}\n€`, seq, '\n'));
      t.true('problem' in d && d.problem.line === 2 && / at column 4 /.test(d.problem.message), `${pad} ${seq}`);
    }
});
