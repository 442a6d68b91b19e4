import test from 'ava';
import fc from 'fast-check';
import type { Model } from '../../src/model/types.js';
import { backendTags, MAX_PERSISTENT_BACKENDS, persistenceMarks, SERVICE_MASK } from '../../src/plan/persistence.js';
import { plan, replan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const names = (...ns: string[]): Model => ({
  table: 'nftlb',
  services: ns.map((name) => ({ name, persistence: {} }) as unknown as Model['services'][number]),
});

test('service marks: above every backend id and slot-free bits, distinct, from the names alone', (t) => {
  const m = persistenceMarks(names('web', 'mail', 'dns'));
  t.is(m.size, 3);
  for (const v of m.values()) {
    t.true(v >= 0x100000, 'a mark never reads as a backend id');
    t.is(v & ~SERVICE_MASK, 0, 'the tag bits are free');
  }
  t.is(new Set(m.values()).size, 3);
  t.deepEqual(persistenceMarks(names('dns', 'web', 'mail')), m, 'config order does not matter');
  t.is(persistenceMarks(names('web', 'other', 'mail', 'dns')).get('web'), m.get('web'), 'another service added');
});

test('service marks are distinct for any set of names; a name keeps its mark when others join (no collision)', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,12}$/), { minLength: 1, maxLength: 300 }),
      (ns) => {
        const m = persistenceMarks(names(...ns));
        return new Set(m.values()).size === ns.length && [...m.values()].every((v) => v >= 0x100000);
      },
    ),
  );
  // Thousands of services: collisions are resolved, every mark distinct.
  const many = Array.from({ length: 20000 }, (_, i) => `svc${i}`);
  t.is(new Set(persistenceMarks(names(...many)).values()).size, many.length);
});

test('backend tags carry the service mark, are distinct, and stay when backends are added, removed or reordered', (t) => {
  const mark = 0x00abc000;
  const eps = ['198.51.100.2:8080', '198.51.100.3:8080', '198.51.100.4:8080'];
  const tags = backendTags(mark, eps);
  t.is(new Set(tags).size, 3);
  for (const tag of tags) {
    t.is((tag & SERVICE_MASK) >>> 0, mark);
    t.true((tag & ~SERVICE_MASK) >= 1);
  }
  const of = (list: string[]): Map<string, number> => new Map(list.map((e, i) => [e, backendTags(mark, list)[i]!]));
  const before = of(eps);
  const after = of(['198.51.100.9:8080', eps[2]!, eps[0]!]);
  t.is(after.get(eps[0]!), before.get(eps[0]!));
  t.is(after.get(eps[2]!), before.get(eps[2]!));
  const full = Array.from({ length: MAX_PERSISTENT_BACKENDS }, (_, i) => `198.18.${i >> 8}.${i & 255}:80`);
  t.is(new Set(backendTags(mark, full)).size, MAX_PERSISTENT_BACKENDS, 'every tag of a full service is distinct');
});

test('plan: persistence and tags only on services that have it; replan keeps the mark', (t) => {
  const model = modelOf(`
services:
  - { name: web, vip: 203.0.113.1, port: 80, persistence: { timeout: 60 }, backends: [{ address: 198.51.100.2 }, { address: 198.51.100.3 }] }
  - { name: plain, vip: 203.0.113.1, port: 81, backends: [{ address: 198.51.100.2 }] }
`);
  const p = plan(model);
  const [web, plain] = p.services as [(typeof p.services)[number], (typeof p.services)[number]];
  t.like(web.persistence, { timeout: 60, key: 'saddr', netmask4: 32, netmask6: 64, size: 65536 });
  t.true(web.backends.every((b) => b.tag !== undefined && (b.tag & SERVICE_MASK) >>> 0 === web.persistence!.mark));
  t.false('persistence' in plain);
  t.true(plain.backends.every((b) => !('tag' in b)));
  const down = replan(p, model, { health: new Map([['web/198.51.100.2:80', 'down' as const]]) }, [0]);
  t.deepEqual(down.services[0]!.persistence, web.persistence);
  t.deepEqual(
    down.services[0]!.backends.map((b) => b.tag),
    web.backends.map((b) => b.tag),
  );
});
