// DSR's Maglev (stickyMaglev): taking a backend out moves exactly its own clients, spread over the others, while plain
// Maglev (NAT, where conntrack keeps established connections) also moves a few slots between the survivors.
import test from 'ava';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const config = (forwarding: 'nat' | 'dsr', down: boolean): string => `
services:
  - name: cache
    vip: 203.0.113.1
    port: 80
    scheduler: maglev
    hash: { table-size: 1021 }
${forwarding === 'dsr' ? '    forwarding: dsr\n    interface: eth0\n' : ''}    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4${down ? ', state: down' : ''} }
      - { address: 198.51.100.5 }
      - { address: 198.51.100.6 }
`;

const slots = (forwarding: 'nat' | 'dsr', down: boolean): readonly number[] =>
  plan(modelOf(config(forwarding, down))).services[0]!.pools[0]!.slots;

test('DSR: a backend out of selection moves only its slots, spread over every other backend', (t) => {
  const before = slots('dsr', false);
  const after = slots('dsr', true);
  t.is(before.length, 1021);
  t.deepEqual(before, slots('nat', false), 'with every backend in, the table is plain Maglev');
  const gone = 3; // 198.51.100.4
  let moved = 0;
  const took = new Map<number, number>();
  for (let j = 0; j < before.length; j++) {
    if (before[j] !== gone) t.is(after[j], before[j], `slot ${j} of a backend that stayed`);
    else {
      moved++;
      t.not(after[j], gone);
      took.set(after[j]!, (took.get(after[j]!) ?? 0) + 1);
    }
  }
  t.log(`moved ${moved} of 1021 slots; taken over by ${JSON.stringify(Object.fromEntries(took))}`);
  t.true(moved > 1021 / 5 - 40 && moved < 1021 / 5 + 40);
  // Each of the 4 others takes about a quarter of them (Maglev's own spread).
  t.is(took.size, 4);
  for (const n of took.values()) t.true(n > moved / 4 - 25 && n < moved / 4 + 25, `share ${n} of ${moved}`);
});

test('NAT keeps plain Maglev: a few slots of the backends that stayed move too', (t) => {
  const before = slots('nat', false);
  const after = slots('nat', true);
  let others = 0;
  for (let j = 0; j < before.length; j++) if (before[j] !== 3 && after[j] !== before[j]) others++;
  t.log(`plain Maglev moved ${others} slots of backends that stayed`);
  t.true(others > 0);
});

test('DSR: backups that the quorum brings in take slots while every primary is in; a primary leaving then moves only its own', (t) => {
  const quorum = (down: boolean): readonly number[] =>
    plan(
      modelOf(`
services:
  - name: cache
    vip: 203.0.113.1
    port: 80
    scheduler: maglev
    hash: { table-size: 1021 }
    forwarding: dsr
    interface: eth0
    quorum: 3
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3${down ? ', state: down' : ''} }
      - { address: 198.51.100.4, state: backup }
      - { address: 198.51.100.5, state: backup }
`),
    ).services[0]!.pools[0]!.slots;
  const before = quorum(false);
  const owners = new Set(before);
  t.deepEqual([...owners].sort(), [1, 2, 3, 4], 'both primaries and both backups own slots');
  const after = quorum(true);
  for (let j = 0; j < before.length; j++)
    if (before[j] !== 2) t.is(after[j], before[j], `slot ${j} of a backend that stayed`);
    else t.not(after[j], 2);
});
