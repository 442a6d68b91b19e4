import test from 'ava';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const cfg = (extra: string, backends: string): string => `
table: hc
services:
  - name: web
    vip: 203.0.113.1
    port: 80
${extra}
    health: { type: tcp }
    backends:
${backends}
  - name: after
    vip: 203.0.113.2
    port: 80
    backends:
      - { address: 198.51.100.9 }
`;
const ids = (slots: readonly number[]): number[] => [...new Set(slots)].sort();
const overlay = (o: Record<string, 'up' | 'down'>) => ({ health: new Map(Object.entries(o)) });

test('drain and down take no new connections; a probe verdict down removes a backend', (t) => {
  const m = modelOf(
    cfg(
      '',
      `      - { address: 198.51.100.2 }\n      - { address: 198.51.100.3, state: drain }\n      - { address: 198.51.100.4, state: down }\n      - { address: 198.51.100.5 }`,
    ),
  );
  t.deepEqual(ids(plan(m).services[0]!.pools[0]!.slots), [1, 4]);
  t.deepEqual(ids(plan(m, overlay({ 'web/198.51.100.5:80': 'down' })).services[0]!.pools[0]!.slots), [1]);
});

test('backups take over only when no primary is healthy, and give back', (t) => {
  const m = modelOf(
    cfg(
      '',
      `      - { address: 198.51.100.2 }\n      - { address: 198.51.100.3 }\n      - { address: 198.51.100.4, state: backup }`,
    ),
  );
  t.deepEqual(ids(plan(m).services[0]!.pools[0]!.slots), [1, 2]);
  t.deepEqual(ids(plan(m, overlay({ 'web/198.51.100.2:80': 'down' })).services[0]!.pools[0]!.slots), [2]);
  t.deepEqual(
    ids(
      plan(m, overlay({ 'web/198.51.100.2:80': 'down', 'web/198.51.100.3:80': 'down' })).services[0]!.pools[0]!.slots,
    ),
    [3],
  );
  t.deepEqual(
    ids(plan(m, overlay({ 'web/198.51.100.2:80': 'down', 'web/198.51.100.3:80': 'up' })).services[0]!.pools[0]!.slots),
    [2],
  );
});

test('below quorum the backups join the remaining primaries', (t) => {
  const m = modelOf(
    cfg(
      '    quorum: 3',
      `      - { address: 198.51.100.2, weight: 2 }\n      - { address: 198.51.100.3, weight: 2 }\n      - { address: 198.51.100.4, state: backup }`,
    ),
  );
  t.deepEqual(ids(plan(m).services[0]!.pools[0]!.slots), [1, 2]);
  t.deepEqual(ids(plan(m, overlay({ 'web/198.51.100.2:80': 'down' })).services[0]!.pools[0]!.slots), [2, 3]);
});

test('on-empty keep balances over the last known set; reject closes the service', (t) => {
  const backends = `      - { address: 198.51.100.2 }\n      - { address: 198.51.100.3 }`;
  const allDown = { 'web/198.51.100.2:80': 'down' as const, 'web/198.51.100.3:80': 'down' as const };
  const rejecting = plan(modelOf(cfg('', backends)), overlay(allDown)).services[0]!.pools[0]!;
  t.is(rejecting.selector, null);
  const keep = modelOf(cfg('    on-empty: keep', backends));
  const kept = plan(keep, {
    health: new Map(Object.entries(allDown)),
    lastKnown: new Map([['web/v4', ['web/198.51.100.3:80']]]),
  }).services[0]!.pools[0]!;
  t.true(kept.kept);
  t.deepEqual(ids(kept.slots), [2]);
  // Nothing recorded yet: every configured primary.
  t.deepEqual(ids(plan(keep, overlay(allDown)).services[0]!.pools[0]!.slots), [1, 2]);
});

test('health changes never move another pool: slot ranges are reserved for the full set', (t) => {
  const m = modelOf(cfg('', `      - { address: 198.51.100.2, weight: 3 }\n      - { address: 198.51.100.3 }`));
  const all = plan(m);
  const one = plan(m, overlay({ 'web/198.51.100.2:80': 'down' }));
  const none = plan(m, overlay({ 'web/198.51.100.2:80': 'down', 'web/198.51.100.3:80': 'down' }));
  t.is(all.services[0]!.pools[0]!.capacity, 4);
  for (const p of [one, none]) {
    t.is(p.services[0]!.pools[0]!.slotBase, all.services[0]!.pools[0]!.slotBase);
    t.is(p.services[1]!.pools[0]!.slotBase, all.services[1]!.pools[0]!.slotBase);
  }
  t.is(one.services[0]!.pools[0]!.slots.length, 1);
});

test('verdicts of backends without a health check are ignored', (t) => {
  const m = modelOf(cfg('', `      - { address: 198.51.100.2 }`));
  const p = plan(m, overlay({ 'after/198.51.100.9:80': 'down' }));
  t.deepEqual(p.services[1]!.pools[0]!.slots, [2]);
  t.is(p.services[1]!.backends[0]!.health, 'unknown');
});
