// The option values the import reads: what a config can carry is read, anything else is refused with the reason.
import test from 'ava';
import {
  portRangeText,
  readAddress,
  readEndpoint,
  readHost,
  readMasked,
  readPortRange,
  readU32,
} from '../../src/iptables/import/rule-values.js';

test('ports: 1..65535, ranges A:B forwards, written as a config writes them', (t) => {
  t.deepEqual(readPortRange('80', '--dport'), { first: 80, last: 80 });
  t.deepEqual(readPortRange('8000:8010', '--dport'), { first: 8000, last: 8010 });
  t.is(portRangeText(readPortRange('8000:8010', '--dport')), '8000-8010');
  t.is(portRangeText(readPortRange('0080', '--dport')), '80');
  for (const [text, why] of [
    ['0', /port 0 is outside 1\.\.65535/],
    ['65536', /port 65536 is outside/],
    ['99999999', /expected a port number/],
    ['90:80', /port range 90:80 runs backwards/],
    [':80', /expected a port number, got nothing/],
    ['80:', /expected a port number, got nothing/],
    ['http', /expected a port number, got http/],
    ['-1', /expected a port number/],
  ] as const)
    t.throws(() => readPortRange(text, '--dport'), { message: why }, text);
});

test('DNAT destinations: one address and an optional port; ranges and other families are refused', (t) => {
  t.deepEqual(readEndpoint('198.51.100.2:8080'), { address: { family: 4, text: '198.51.100.2' }, port: 8080 });
  t.deepEqual(readEndpoint('198.51.100.2'), { address: { family: 4, text: '198.51.100.2' }, port: undefined });
  t.deepEqual(readEndpoint('[2001:db8::2]:8080'), { address: { family: 6, text: '2001:db8::2' }, port: 8080 });
  t.deepEqual(readEndpoint('[2001:db8::2]'), { address: { family: 6, text: '2001:db8::2' }, port: undefined });
  t.deepEqual(readEndpoint('2001:0db8::2'), { address: { family: 6, text: '2001:db8::2' }, port: undefined });
  for (const [text, why] of [
    ['198.51.100.2:0', /port 0 is outside/],
    ['198.51.100.2:70000', /port 70000 is outside/],
    ['198.51.100.2:8000-8010', /a range of addresses or ports/],
    ['198.51.100.2-198.51.100.9', /a range of addresses or ports/],
    ['198.51.100', /expected one IPv4 or IPv6 address/],
    [':80', /expected one IPv4 or IPv6 address, got $/],
    ['[2001:db8::2]:', /expected a port number, got nothing/],
  ] as const)
    t.throws(() => readEndpoint(text), { message: why }, text);
});

test('marks and counts: 32-bit numbers, decimal or hex, with an optional mask', (t) => {
  t.is(readU32('0x10', '--mark'), 16);
  t.is(readU32('4294967295', '--mark'), 4294967295);
  t.deepEqual(readMasked('0x1/0xff', '--mark'), { value: 1, mask: 255 });
  t.deepEqual(readMasked('7', '--mark'), { value: 7, mask: 0xffffffff });
  for (const text of ['4294967296', '0x100000000', '-1', '1.5', 'abc', ''])
    t.throws(() => readU32(text, '--mark'), { message: /--mark: expected a number from 0 to 4294967295/ }, text);
  t.throws(() => readMasked('1/', '--mark'), { message: /expected a number/ });
});

test('addresses: canonical text, brackets allowed; prefixes and IPv4-mapped ones refused', (t) => {
  t.deepEqual(readAddress('[2001:DB8::1]', 'x'), { family: 6, text: '2001:db8::1' });
  for (const text of ['203.0.113.0/24', '::ffff:203.0.113.1', 'host.example', ''])
    t.throws(() => readAddress(text, '--to-source'), { message: /--to-source: expected one IPv4 or IPv6 address/ });
});

test('a listener destination is one host: A, A/32, A6/128; a network or a prefix of the other length is not', (t) => {
  t.deepEqual(readHost('203.0.113.1'), { family: 4, text: '203.0.113.1' });
  t.deepEqual(readHost('203.0.113.1/32'), { family: 4, text: '203.0.113.1' });
  t.deepEqual(readHost('2001:db8::1/128'), { family: 6, text: '2001:db8::1' });
  for (const text of ['203.0.113.0/24', '2001:db8::1/32', '203.0.113.1/128', '203.0.113.1/', 'web'])
    t.is(readHost(text), undefined, text);
});

test('no one host (unspecified, multicast, broadcast) is a backend or a VIP: refused with the reason, as the config refuses it', (t) => {
  for (const [to, why] of [
    ['0.0.0.0:5', /--to-destination 0\.0\.0\.0:5: 0\.0\.0\.0 is the unspecified address/],
    ['224.0.0.1', /224\.0\.0\.1 is a multicast address/],
    ['255.255.255.255:80', /255\.255\.255\.255 is the broadcast address/],
    ['[ff02::1]:80', /ff02::1 is a multicast address/],
    ['[::]:80', /:: is the unspecified address/],
  ] as const)
    t.throws(() => readEndpoint(to), { message: why }, to);
  for (const dst of ['0.0.0.0/32', '0.0.0.0', '239.1.2.3/32', '255.255.255.255', 'ff05::2/128', '::/128'])
    t.is(readHost(dst), undefined, dst);
  t.deepEqual(readHost('223.255.255.255/32'), { family: 4, text: '223.255.255.255' });
});
