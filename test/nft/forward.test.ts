// The forward filter's sets (the rendered table itself is the golden fixture fixtures/forward/drop/): a balanced
// connection is recognised by its reply source, so the sets hold the backends' addresses and not their ids, which move
// when the config is reordered.
import test from 'ava';
import { forwardSets } from '../../src/nft/forward.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

// A service with these backends (`address: A` or `address: A, port: P`; IPv6 ones quoted), on an IPv6 VIP too when it
// has IPv6 backends.
const service = (name: string, port: number, backends: readonly string[]): string => {
  const vip = backends.some((b) => b.startsWith('"')) ? '[203.0.113.1, "2001:db8:1::1"]' : '203.0.113.1';
  return `  - { name: ${name}, vip: ${vip}, port: ${port}, backends: [${backends.map((b) => `{ address: ${b} }`).join(', ')}] }`;
};
const setsOf = (...services: string[]): Record<string, { size: number | undefined; elements: string[] }> =>
  Object.fromEntries(
    forwardSets(plan(modelOf(['forward: { policy: drop }', 'services:', ...services].join('\n')))).map((s) => [
      s.name,
      { size: s.size, elements: [...s.elements].map((e) => e.key) },
    ]),
  );

test('forwardSets: each backend address once per family, shared by services and ports alike', (t) => {
  const sets = setsOf(
    service('web', 80, ['198.51.100.2', '198.51.100.3', '"2001:db8:2::2"']),
    service('mail', 25, ['198.51.100.3', '"2001:db8:2:0::2"', '198.51.100.4']),
    service('alt', 8080, ['198.51.100.2, port: 8081']),
  );
  t.deepEqual(sets['forward_backends4'], { size: 3, elements: ['198.51.100.2', '198.51.100.3', '198.51.100.4'] });
  t.deepEqual(sets['forward_backends6'], { size: 1, elements: ['2001:db8:2::2'] });
});

test('forwardSets: reordering backends or inserting a service above keeps the same addresses', (t) => {
  const web = service('web', 80, ['198.51.100.2', '198.51.100.3', '198.51.100.4']);
  const elements = (...services: string[]): Record<string, string[]> =>
    Object.fromEntries(Object.entries(setsOf(...services)).map(([name, s]) => [name, [...s.elements].sort()]));
  const before = elements(web);
  t.deepEqual(elements(service('web', 80, ['198.51.100.4', '198.51.100.2', '198.51.100.3'])), before);
  t.deepEqual(elements(service('api', 81, ['198.51.100.3']), web), before);
});
