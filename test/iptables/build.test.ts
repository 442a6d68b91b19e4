// The iptables rule model: exact rotation, exact random shares, HMARK slots, NAT, refusals.
import test from 'ava';
import { NftlbError } from '../../src/common/errors.js';
import { checkConfig } from '../../src/config/read.js';
import type { IptChain, IptRule } from '../../src/iptables/ast.js';
import { buildIptables, MAX_POOL_RULES } from '../../src/iptables/build.js';
import { backendChain, serviceChain } from '../../src/iptables/names.js';
import { formatProbability, sharesFromConditional } from '../../src/iptables/probability.js';
import { plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';

function planOf(yaml: string): Plan {
  const checked = checkConfig('test.yaml', yaml);
  if (checked.model === undefined) throw new Error(JSON.stringify(checked.diagnostics));
  return plan(checked.model);
}

const svc = (name: string, extra: string, backends: string): string =>
  `services:\n  - name: ${name}\n    vip: 203.0.113.1\n    port: 80\n${extra}    backends:\n${backends}`;
const be = (addr: string, more = ''): string => `      - { address: ${addr}, port: 8080${more} }\n`;

function chain(p: Plan, name: string, family: 4 | 6 = 4): IptChain {
  const nat = buildIptables(p, family).tables.find((t) => t.name === 'nat')!;
  const c = nat.chains.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no chain ${name}`);
  return c;
}

// Walks a pool chain the way the kernel does for `statistic --mode nth` (each rule has its own counter, counts only
// the packets that reach it, matches the first of every `every`) and returns the backend id each connection gets.
function simulateNth(rules: readonly IptRule[], connections: number): number[] {
  const counters = rules.map(() => 0);
  const out: number[] = [];
  for (let n = 0; n < connections; n++) {
    for (const [i, r] of rules.entries()) {
      const nth = r.matches.find((m) => m.kind === 'nth');
      if (nth?.kind === 'nth') {
        const hit = counters[i]! % nth.every === 0;
        counters[i]!++;
        if (!hit) continue;
      }
      if (r.target.kind !== 'jump') throw new Error('expected a jump');
      out.push(Number(r.target.chain.slice('NFTLB-B-'.length)));
      break;
    }
  }
  return out;
}

test('round robin: nth rules every N-i give exact rotation in plan slot order', (t) => {
  const p = planOf(svc('web', '', be('198.51.100.2') + be('198.51.100.3') + be('198.51.100.4') + be('198.51.100.5')));
  const rules = chain(p, serviceChain('web')).rules;
  t.deepEqual(
    rules.map((r) => r.matches.map((m) => (m.kind === 'nth' ? m.every : m.kind))),
    [[4], [3], [2], []],
    'one rule per backend, the last unconditional',
  );
  const slots = p.services[0]!.pools[0]!.slots;
  t.deepEqual(simulateNth(rules, 40), Array.from({ length: 10 }, () => slots).flat());
});

test('weighted round robin: one nth rule per slot reproduces the smooth sequence exactly', (t) => {
  const p = planOf(
    svc(
      'wrr',
      '',
      be('198.51.100.2', ', weight: 5') + be('198.51.100.3', ', weight: 1') + be('198.51.100.4', ', weight: 1'),
    ),
  );
  const slots = p.services[0]!.pools[0]!.slots;
  t.is(slots.length, 7);
  const seq = simulateNth(chain(p, serviceChain('wrr')).rules, 70);
  t.deepEqual(seq, Array.from({ length: 10 }, () => slots).flat());
  t.deepEqual(
    [1, 2, 3].map((id) => seq.filter((x) => x === id).length),
    [50, 10, 10],
  );
});

test('random: conditional probabilities w_i / (w_i + ... + w_n) give the weights exactly', (t) => {
  const p = planOf(
    svc(
      'rnd',
      '    scheduler: random\n',
      be('198.51.100.2', ', weight: 5') +
        be('198.51.100.3', ', weight: 3') +
        be('198.51.100.4', ', weight: 2') +
        be('198.51.100.5', ', weight: 7'),
    ),
  );
  const rules = chain(p, serviceChain('rnd')).rules;
  const probs = rules.flatMap((r) => r.matches.flatMap((m) => (m.kind === 'random' ? [m.probability] : [])));
  t.deepEqual(probs, [5 / 17, 3 / 12, 2 / 9]);
  const shares = sharesFromConditional(probs);
  [5, 3, 2, 7].forEach((w, i) => t.true(Math.abs(shares[i]! - w / 17) < 1e-15, `share ${i}`));
  t.is(rules[3]!.matches.length, 0, 'last backend takes the rest');
});

test('probabilities are printed with at least 12 significant digits and no exponent', (t) => {
  for (const p of [1 / 3, 0.5, 1 / 19999, 2 / 3, 1e-7 + 1 / 7]) {
    const s = formatProbability(p);
    t.regex(s, /^0\.[0-9]+$/);
    const significant = s.replace(/^0\.0*/, '').length;
    t.true(significant >= 12, `${s} has ${significant} significant digits`);
    t.true(Math.abs(Number(s) - p) / p < 1e-11, s);
  }
  t.throws(() => formatProbability(1));
});

test('source-hash: HMARK writes slotBase + slot, one mark rule per slot, the packet mark is parked and restored', (t) => {
  const p = planOf(
    svc(
      'sh',
      '    scheduler: source-hash\n    hash: { seed: 0x5eed }\n',
      be('198.51.100.2') + be('198.51.100.3', ', weight: 2'),
    ),
  );
  const pool = p.services[0]!.pools[0]!;
  const rules = chain(p, serviceChain('sh')).rules;
  t.deepEqual(rules[0]!.target, { kind: 'connmark-save' });
  t.deepEqual(rules[1]!.target, { kind: 'hmark', tuple: ['saddr'], mod: 3, offset: pool.slotBase, seed: 0x5eed });
  t.deepEqual(
    rules
      .slice(2)
      .map((r) => [
        r.matches[0]?.kind === 'mark' ? r.matches[0].value : null,
        r.target.kind === 'jump' ? r.target.chain : null,
      ]),
    [
      [pool.slotBase, backendChain(1)],
      [pool.slotBase + 1, backendChain(2)],
      [null, backendChain(2)],
    ],
  );
  const b1 = chain(p, backendChain(1)).rules;
  t.deepEqual(b1[0]!.target, { kind: 'connmark-restore' }, 'packet mark put back before anything else');
  t.deepEqual(b1[1]!.target, { kind: 'connmark-set', value: 1 }, 'ct mark = backend id, as with nft');
});

test('symmetric-hash maps to HMARK over the full tuple (HMARK orders addresses and ports itself)', (t) => {
  const p = planOf(svc('sym', '    scheduler: symmetric-hash\n', be('198.51.100.2') + be('198.51.100.3')));
  const hm = chain(p, serviceChain('sym')).rules[1]!.target;
  t.like(hm, { kind: 'hmark', tuple: ['saddr', 'daddr', 'sport', 'dport'], mod: 2 });
});

test('NAT: masquerade, snat per family and none, chosen by the backend id in the ct mark', (t) => {
  const p = planOf(
    'services:\n' +
      '  - { name: m, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2, port: 80 }] }\n' +
      '  - { name: s, vip: [203.0.113.1, "2001:db8:1::1"], port: 81, nat: { snat: [198.51.100.1, "2001:db8:2::1"] }, backends: [{ address: 198.51.100.2, port: 80 }, { address: "2001:db8:2::2", port: 80 }] }\n' +
      '  - { name: n, vip: 203.0.113.1, port: 82, nat: none, backends: [{ address: 198.51.100.2, port: 80 }] }\n',
  );
  const post4 = chain(p, 'NFTLB-POST').rules;
  t.deepEqual(
    post4.map((r) => [r.matches.map((m) => (m.kind === 'connmark' ? m.value : m.kind)), r.target]),
    [
      [['ctstate', 1], { kind: 'masquerade' }],
      [['ctstate', 2], { kind: 'snat', to: { family: 4, text: '198.51.100.1' } }],
    ],
  );
  const post6 = chain(p, 'NFTLB-POST', 6).rules;
  t.deepEqual(
    post6.map((r) => [r.matches.map((m) => (m.kind === 'connmark' ? m.value : m.kind)), r.target]),
    [[['ctstate', 3], { kind: 'snat', to: { family: 6, text: '2001:db8:2::1' } }]],
  );
});

test('a backend that keeps the client port DNATs to the address alone, without a protocol match', (t) => {
  const p = planOf(
    'services:\n  - { name: k, vip: 203.0.113.1, port: [80, 81], protocol: [tcp, udp], backends: [{ address: 198.51.100.2 }] }\n',
  );
  t.deepEqual(
    chain(p, backendChain(1)).rules.map((r) => [r.matches.map((m) => m.kind), r.target]),
    [
      [['comment'], { kind: 'connmark-set', value: 1 }],
      [[], { kind: 'dnat', to: '198.51.100.2' }],
    ],
  );
});

test('refusals name the service and the feature, with code unsupported', (t) => {
  const mg = planOf(svc('mg', '    scheduler: maglev\n', be('198.51.100.2') + be('198.51.100.3')));
  const e1 = t.throws(() => buildIptables(mg, 4), { instanceOf: NftlbError });
  t.is(e1?.code, 'unsupported');
  t.regex(e1?.message ?? '', /^service mg: maglev with table-size 4093 /);
  const big = planOf(svc('heavy', '', be('198.51.100.2', ', weight: 1000') + be('198.51.100.3', ', weight: 999')));
  t.throws(() => buildIptables(big, 4), {
    instanceOf: NftlbError,
    message: /^service heavy: weighted round-robin with 1999 slots/,
  });
  const small = planOf(
    svc('mg', '    scheduler: maglev\n    hash: { table-size: 1021 }\n', be('198.51.100.2') + be('198.51.100.3')),
  );
  t.is(
    chain(small, serviceChain('mg')).rules.length,
    1021 + 2,
    'save + HMARK + one rule per slot (the last unconditional)',
  );
  t.true(1021 + 2 <= MAX_POOL_RULES);
});

test('chain names stay within 28 characters and distinct for long service names', (t) => {
  const a = serviceChain('a'.repeat(48));
  const b = serviceChain(`${'a'.repeat(47)}b`);
  t.true(a.length <= 28 && b.length <= 28);
  t.not(a, b);
  t.is(String(serviceChain('web')), 'NFTLB-S-web');
});

test('limits the iptables output does not express are refused, naming the service and the key', (t) => {
  const rated = planOf(svc('rated', '    rate-limit: { rate: 10 }\n', be('198.51.100.2')));
  const e1 = t.throws(() => buildIptables(rated, 4), { instanceOf: NftlbError });
  t.is(e1?.code, 'unsupported');
  t.regex(e1?.message ?? '', /^service rated: rate-limit is not expressed by the iptables output/);
  const capped = planOf(svc('capped', '', be('198.51.100.2') + be('198.51.100.3', ', max-connections: 5')));
  t.throws(() => buildIptables(capped, 4), {
    instanceOf: NftlbError,
    message: /^service capped: max-connections is not expressed/,
  });
  const plain = planOf(svc('plain', '    limit-overflow: reject\n', be('198.51.100.2')));
  t.notThrows(() => buildIptables(plain, 4), 'limit-overflow alone (a warning) sets no limit');
});
