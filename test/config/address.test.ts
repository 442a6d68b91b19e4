import test from 'ava';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { parseAddress } from '../../src/model/address.js';
import { checkConfig } from '../../src/config/read.js';

const ok = test.macro((t, input: string, family: number, text: string) => {
  t.deepEqual(parseAddress(input), { family, text });
});
const bad = test.macro((t, input: string) => {
  t.is(parseAddress(input), undefined);
});

test('IPv4', ok, '203.0.113.1', 4, '203.0.113.1');
test('IPv6 canonical form', ok, '2001:DB8:1:0:0::1', 6, '2001:db8:1::1');
test('refuses a prefix', bad, '198.51.100.2/32');
test('refuses IPv4 shorthand', bad, '203.1');
test('refuses octets over 255', bad, '203.0.113.300');
test('refuses zone ids', bad, 'fe80::1%eth0');
test('refuses IPv4-mapped IPv6', bad, '::ffff:203.0.113.1');
test('refuses names', bad, 'backend.example');

// The canonical dotted-quad fast path must agree with ipaddr.js, which handles every other spelling.
test('dotted quads: the fast path gives what ipaddr.js gives', (t) => {
  const octet = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map(String),
    fc.integer({ min: 0, max: 255 }).map((n) => `0${n}`),
    fc.integer({ min: 256, max: 999 }).map(String),
  );
  fc.assert(
    fc.property(fc.array(octet, { minLength: 4, maxLength: 4 }), (parts) => {
      const text = parts.join('.');
      const slow = ipaddr.IPv4.isValidFourPartDecimal(text)
        ? { family: 4, text: ipaddr.IPv4.parse(text).toString() }
        : undefined;
      t.deepEqual(parseAddress(text), slow, text);
    }),
    { numRuns: 5000 },
  );
});

test('an address written with its port says so, and is taken for its family in the other rules', (t) => {
  const text = [
    'services:',
    '  - name: a',
    '    vip: 203.0.113.1',
    '    port: 80',
    '    backends: [{ address: "198.51.100.2:8080" }, { address: "[2001:db8::2]:8080" }]',
    '',
  ].join('\n');
  const found = checkConfig('c.yaml', text).diagnostics.map((d) => `${d.code}: ${d.message}`);
  t.deepEqual(found, [
    'address.invalid: expected an address without its port, got "198.51.100.2:8080": write 198.51.100.2 and the port as port: 8080',
    'address.invalid: expected an address without its port, got "[2001:db8::2]:8080": write 2001:db8::2 and the port as port: 8080',
    'family.mismatch: IPv6 backend [2001:db8::2]:8080 but the service has no IPv6 VIP',
  ]);
});
