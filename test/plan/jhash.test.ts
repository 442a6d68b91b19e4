import test from 'ava';
import { jhash, reciprocalScale } from '../../src/plan/jhash.js';
import { hashInput, jhashSlot } from '../../src/nft/flow-hash.js';
import { parseAddress } from '../../src/model/address.js';
import type { HashField } from '../../src/model/types.js';

const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

test("jhash is lookup3's hashlittle with the kernel's start value (the reference driver's vectors)", (t) => {
  t.is(jhash(text(''), 0), 0xdeadbeef);
  t.is(jhash(text(''), 0xdeadbeef), 0xbd5b7dde);
  t.is(jhash(text('Four score and seven years ago'), 0), 0x17770551);
  t.is(jhash(text('Four score and seven years ago'), 1), 0xcd628161);
});

test('reciprocal_scale takes the high half of the 64-bit product', (t) => {
  t.is(reciprocalScale(0, 1000), 0);
  t.is(reciprocalScale(0xffffffff, 1000), 999);
  t.is(reciprocalScale(0x80000000, 4093), 2046);
});

const a = (s: string) => parseAddress(s)!;
const flow = (saddr: string, sport: number, daddr = '127.0.0.2', dport = 9) => ({
  saddr: a(saddr),
  daddr: a(daddr),
  sport,
  dport,
});

test('the registers nft hashes: one field as it is, a concatenation padded to 4 bytes per field', (t) => {
  const f = flow('198.18.0.1', 0x1234, '203.0.113.1', 80);
  t.deepEqual([...hashInput(['sport'], f)], [0x12, 0x34]);
  t.deepEqual([...hashInput(['saddr'], f)], [198, 18, 0, 1]);
  t.deepEqual([...hashInput(['saddr', 'sport'], f)], [198, 18, 0, 1, 0x12, 0x34, 0, 0]);
  t.deepEqual([...hashInput(['sport', 'dport'], f)], [0x12, 0x34, 0, 0, 0, 80, 0, 0]);
  t.is(hashInput(['saddr', 'sport', 'daddr', 'dport'], flow('2001:db8::1', 1, '2001:db8::2', 2)).length, 40);
});

// Slots the kernel computed (kernel 6.18, nft 1.0.6): `meta mark set jhash <fields> mod M seed S` in an output chain
// added each packet's fields and mark to a dynamic set, listed afterwards.
const measured: [readonly HashField[], number, number, ReturnType<typeof flow>, number][] = [
  [['saddr', 'sport'], 1000, 0x1234, flow('127.0.0.28', 40126), 0x46],
  [['saddr', 'sport'], 1000, 0x1234, flow('127.0.0.10', 40000), 0xba],
  [['saddr', 'sport'], 1000, 0x1234, flow('127.0.0.11', 40007), 0xc3],
  [['saddr'], 4093, 0xdeadbeef, flow('127.0.1.26', 0), 0x6],
  [['saddr', 'sport', 'daddr', 'dport'], 4093, 7, flow('::1', 41013, '::1', 9), 0x337],
  [['saddr', 'sport', 'daddr', 'dport'], 4093, 7, flow('::1', 41052, '::1', 9), 0xa08],
  [['saddr', 'sport', 'daddr', 'dport'], 4093, 7, flow('::1', 41000, '::1', 9), 0xe01],
  [['sport'], 1000, 5, flow('127.0.0.1', 42018), 55],
  [['sport'], 1000, 5, flow('127.0.0.1', 42000), 467],
  [['sport'], 1000, 5, flow('127.0.0.1', 42012), 854],
];

test('jhashSlot gives the slots the kernel computed for those packets', (t) => {
  for (const [fields, mod, seed, f, slot] of measured)
    t.is(jhashSlot({ kind: 'jhash', fields, seed, mod }, f), slot, `${fields.join(' . ')} of ${f.saddr.text}`);
});
