import test from 'ava';
import type { Chain, Element } from '../../src/nft/ast.js';
import { tableView } from '../../src/nft/build.js';
import { renderTableBodyChunks } from '../../src/nft/render.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

// A config whose table has every part that grows with it: listeners, backends, slot elements in many buckets (equal
// weights with a backend down, weighted random, Maglev tables across buckets), masquerade intervals that do not merge
// (services alternate with SNAT), a max-connections rule per backend and a log chain per service.
function bigConfig(services: number): string {
  const lines = ['table: big', 'services:'];
  for (let i = 0; i < services; i++) {
    const scheduler = ['round-robin', 'random', 'maglev'][i % 3]!;
    lines.push(
      `  - name: s${i}`,
      `    vip: 203.0.113.${1 + (i % 200)}`,
      `    port: ${1000 + i}`,
      `    scheduler: ${scheduler}`,
      `    nat: ${i % 2 === 0 ? 'masquerade' : '{ snat: 198.51.100.254 }'}`,
      '    log: { rate: 10/second, group: 5 }',
      ...(scheduler === 'maglev' ? ['    hash: { table-size: 1031 }'] : []),
      '    backends:',
    );
    for (let j = 0; j < 4; j++) {
      const weight = scheduler === 'random' ? 1 + j * 3 : 1;
      const state = scheduler === 'round-robin' && j === 0 ? 'down' : 'up';
      lines.push(
        `      - { address: 198.18.${i >> 6}.${(i & 63) * 4 + j}, weight: ${weight}, state: ${state}, max-connections: 100 }`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const p = plan(modelOf(bigConfig(200)));

// The regression this guards: objects made ahead of the render and alive through it, at the allocation sites the
// per-service parts use too, make V8 pretenure those sites, and then every element and rule of the render goes to the
// old generation (50k services: 302 MB peak RSS against 258 MB). So the view holds none of them: every set's elements
// and the chains are made as they are iterated.
test('the table view makes no element and no chain before it is iterated', (t) => {
  const v = tableView(p, '');
  t.false(Array.isArray(v.chains));
  for (const s of v.sets) {
    const listed = Array.isArray(s.elements) ? (s.elements as readonly Element[]).length : 0;
    t.is(listed, 0, `set ${s.name} lists its elements ahead of the render`);
  }
});

test('the table view has the parts that grow with the config, and gives them again on each iteration', (t) => {
  const v = tableView(p, '');
  const sizes = new Map(v.sets.map((s) => [s.name as string, [...s.elements].length]));
  t.true(v.sets.filter((s) => /^slots(_ranges)?_\d+$/.test(s.name)).length > 4);
  t.true([...sizes].some(([name, n]) => /^slots_\d+$/.test(name) && n > 0));
  t.true([...sizes].some(([name, n]) => /^slots_ranges_\d+$/.test(name) && n > 0));
  t.is(sizes.get('nat_masquerade'), 100);
  t.is(sizes.get('nat_snat4'), 100);
  const chains = (): Chain[] => [...v.chains];
  t.true(chains().filter((c) => c.name.startsWith('slot_')).length > 2);
  t.deepEqual(chains(), chains());
  for (const s of v.sets) t.deepEqual([...s.elements], [...s.elements]);
  t.is(renderTableBodyChunks(v).join(''), renderTableBodyChunks(v).join(''));
});
