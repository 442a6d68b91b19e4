// Recovering a pool's scheduler from its rules: the nth shortcut agrees with walking the chain, duplicates merge, and
// what a config cannot carry is refused with the reason.
import test from 'ava';
import fc from 'fast-check';
import type { Choice, ImportedBackend } from '../../src/iptables/import/imported.js';
import { nthSequence, poolFromChoices } from '../../src/iptables/import/pool-scheduler.js';
import type { ParsedRule } from '../../src/iptables/import/parsed-rule.js';

const backend = (i: number, family: 4 | 6 = 4): ImportedBackend => ({
  address: family === 4 ? { family: 4, text: `198.51.100.${i}` } : { family: 6, text: `2001:db8::${i}` },
  port: 80,
  id: undefined,
  state: 'up',
  weight: 1,
  rules: [],
});
const RULE = {} as ParsedRule;
const nth = (b: ImportedBackend, every: number, packet = 0): Choice => ({
  rule: RULE,
  backend: b,
  statistic: { mode: 'nth', every, packet },
  mark: undefined,
});
const last = (b: ImportedBackend): Choice => ({ rule: RULE, backend: b, statistic: undefined, mark: undefined });

// The kernel's walk: each rule counts the connections that reach it and takes those where count % every == packet.
function walk(choices: readonly Choice[], connections: number): ImportedBackend[] {
  const counters = choices.map(() => 0);
  const out: ImportedBackend[] = [];
  for (let n = 0; n < connections; n++)
    for (const [i, c] of choices.entries()) {
      if (c.statistic?.mode !== 'nth') {
        out.push(c.backend);
        break;
      }
      const hit = counters[i]! % c.statistic.every === c.statistic.packet;
      counters[i]!++;
      if (hit) {
        out.push(c.backend);
        break;
      }
    }
  return out;
}

test('the usual nth chain (rule i of N: --every N-i) visits its rules in order, as the kernel walk does', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 40 }), (slots) => {
      const bs = [...new Set(slots)].map((i) => backend(i));
      const byId = new Map(bs.map((b) => [b.address.text, b]));
      const of = (i: number): ImportedBackend => byId.get(`198.51.100.${i}`)!;
      const n = slots.length;
      const choices = slots.map((s, i) => (i === n - 1 ? last(of(s)) : nth(of(s), n - i)));
      t.deepEqual(nthSequence(choices), walk(choices, n));
    }),
    { numRuns: 300 },
  );
});

test('any other nth chain is walked, and must repeat with the period of its first rule', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 6 })), {
        minLength: 1,
        maxLength: 5,
      }),
      (rules) => {
        const choices = [
          ...rules.map(([every, packet], i) => nth(backend(i + 1), every, packet % every)),
          last(backend(9)),
        ];
        const seq = nthSequence(choices);
        const period = rules[0]![0];
        if (typeof seq === 'string') t.regex(seq, /do not repeat with the period/);
        else t.deepEqual(seq, walk(choices, period));
      },
    ),
    { numRuns: 300 },
  );
});

test('two rules to one destination are one backend with both shares', (t) => {
  const a1 = backend(2);
  const a2 = backend(2);
  const pool = poolFromChoices([nth(a1, 3), nth(a2, 2), last(backend(3))], undefined, undefined, 4);
  t.not(typeof pool, 'string');
  if (typeof pool === 'string') return;
  t.deepEqual(
    pool.backends.map((b) => [b.address.text, b.weight]),
    [
      ['198.51.100.2', 2],
      ['198.51.100.3', 1],
    ],
  );
});

test('refusals: another family, weights past 10000, too many round-robin slots, an nth chain too big to walk', (t) => {
  t.regex(
    poolFromChoices([nth(backend(1), 2), last(backend(2, 6))], undefined, undefined, 4) as string,
    /DNAT to IPv6 address 2001:db8::2 from an IPv4 listener/,
  );
  t.regex(
    poolFromChoices([nth(backend(1), 20001), last(backend(2))], undefined, undefined, 4) as string,
    /would need weight 20000 \(a config allows up to 10000\)/,
  );
  // Seven backends of weight 10000 and one of weight 1: 70001 slots, which no GCD reduces.
  const bs = Array.from({ length: 8 }, (_, i) => backend(i + 1));
  const slots = [...bs.slice(0, 7).flatMap((b) => Array<ImportedBackend>(10000).fill(b)), bs[7]!];
  const chain = slots.map((b, i) => (i === slots.length - 1 ? last(b) : nth(b, slots.length - i)));
  t.regex(
    poolFromChoices(chain, undefined, undefined, 4) as string,
    /round robin over 70001 slots \(a config allows up to 65536\)/,
  );
  const long = Array.from({ length: 300 }, (_, i) => nth(backend(i % 200), 99999, i % 7));
  t.regex(poolFromChoices([...long, last(backend(250))], undefined, undefined, 4) as string, /too many to follow/);
});
