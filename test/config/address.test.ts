import test from 'ava';
import { parseAddress } from '../../src/model/address.js';

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
