import test from 'ava';
import { incrementalUpdate } from '../../src/nft/delta.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const m = modelOf(`
table: hc
services:
  - name: a
    vip: 203.0.113.1
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
  - name: b
    vip: 203.0.113.2
    port: 80
    on-empty: drop
    health: { type: tcp }
    backends:
      - { address: 198.51.100.4 }
`);
const overlay = (o: Record<string, 'up' | 'down'>) => ({ health: new Map(Object.entries(o)) });

test('no change, no script', (t) => {
  t.deepEqual(incrementalUpdate(plan(m), plan(m, overlay({ 'a/198.51.100.2:80': 'up' }))), {
    commands: [],
    script: null,
    services: [],
  });
});

test('one backend down rewrites only that pool: with the rest selectable directly, just its chain', (t) => {
  const u = incrementalUpdate(plan(m), plan(m, overlay({ 'a/198.51.100.2:80': 'down' })));
  t.deepEqual(u.services, ['a']);
  t.is(
    u.script,
    [
      'add table inet hc',
      'flush chain inet hc svc_a_v4',
      'add chain inet hc svc_a_v4 {',
      '\tcounter ct mark set numgen random mod 1 offset 2',
      '}',
      '',
    ].join('\n'),
  );
});

test('a pool that empties rewrites only its chain: its mark then gets the on-empty verdict, and back', (t) => {
  const down = plan(m, overlay({ 'b/198.51.100.4:80': 'down' }));
  const u = incrementalUpdate(plan(m), down);
  t.is(
    u.script,
    [
      'add table inet hc',
      'flush chain inet hc svc_b_v4',
      'add chain inet hc svc_b_v4 {',
      '\tcounter ct mark set numgen random mod 1 offset 4294966784',
      '}',
      '',
    ].join('\n'),
  );
  const back = incrementalUpdate(down, plan(m));
  t.is(
    back.script,
    [
      'add table inet hc',
      'flush chain inet hc svc_b_v4',
      'add chain inet hc svc_b_v4 {',
      '\tcounter ct mark set numgen random mod 1 offset 3',
      '}',
      '',
    ].join('\n'),
  );
});

test('plans of different configs are refused', (t) => {
  const other = modelOf(`
table: hc
services:
  - name: a
    vip: 203.0.113.1
    port: 80
    backends:
      - { address: 198.51.100.2 }
`);
  t.throws(() => incrementalUpdate(plan(m), plan(other)), { message: /different configs/ });
});

test('a middle backend down makes the pool select through slot elements, and back to direct selection', (t) => {
  const three = modelOf(`
table: hc
services:
  - name: c
    vip: 203.0.113.3
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4 }
`);
  const down = plan(three, overlay({ 'c/198.51.100.3:80': 'down' }));
  const u = incrementalUpdate(plan(three), down);
  t.is(
    u.script,
    [
      'add table inet hc',
      'flush chain inet hc svc_c_v4',
      'add chain inet hc svc_c_v4 {',
      '\tcounter ct mark set numgen inc mod 2 offset 1048576',
      '}',
      'add map inet hc slots_0 { type mark : mark; elements = { 1048576 : 1, 1048577 : 3 } }',
      '',
    ].join('\n'),
  );
  // Back: the bucket's slot maps are flushed (nft 1.0.6 fetches every chain for a delete) and refilled with what the
  // other pools of the bucket select (none here).
  const back = incrementalUpdate(down, plan(three));
  t.is(
    back.script,
    [
      'add table inet hc',
      'flush map inet hc slots_0',
      'flush chain inet hc svc_c_v4',
      'add chain inet hc svc_c_v4 {',
      '\tcounter ct mark set numgen inc mod 3 offset 1',
      '}',
      '',
    ].join('\n'),
  );
});

test('a slot element that goes empties its bucket and adds back what the other pools of the bucket select', (t) => {
  const two = modelOf(`
table: hc
services:
  - name: c
    vip: 203.0.113.3
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4 }
  - name: d
    vip: 203.0.113.4
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.5 }
      - { address: 198.51.100.6 }
      - { address: 198.51.100.7 }
`);
  const both = plan(two, overlay({ 'c/198.51.100.3:80': 'down', 'd/198.51.100.6:80': 'down' }));
  const u = incrementalUpdate(both, plan(two, overlay({ 'd/198.51.100.6:80': 'down' })));
  t.deepEqual(u.services, ['c']);
  t.is(
    u.script,
    [
      'add table inet hc',
      'flush map inet hc slots_0',
      'flush chain inet hc svc_c_v4',
      'add chain inet hc svc_c_v4 {',
      '\tcounter ct mark set numgen inc mod 3 offset 1',
      '}',
      'add map inet hc slots_0 { type mark : mark; elements = { 1048579 : 4, 1048580 : 6 } }',
      '',
    ].join('\n'),
  );
});

test('a service with a rate limit keeps the drop in its service chain: a change rewrites only its selector chain', (t) => {
  const limited = modelOf(`
table: hc
services:
  - name: r
    vip: 203.0.113.5
    port: 80
    rate-limit: { rate: 100 }
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
`);
  const u = incrementalUpdate(plan(limited), plan(limited, overlay({ 'r/198.51.100.2:80': 'down' })));
  t.is(
    u.script,
    [
      'add table inet hc',
      'flush chain inet hc sel_r_v4',
      'add chain inet hc sel_r_v4 {',
      '\tct mark set numgen random mod 1 offset 2',
      '}',
      '',
    ].join('\n'),
  );
});
