import { probe } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { counts, loadYaml } from './support/nftlb.js';

const maglev = (downLast: boolean) => `
services:
  - name: cache
    vip: 203.0.113.1
    port: 80
    scheduler: maglev
    hash: { fields: [saddr], seed: 0xcafe }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
      - { address: 198.51.100.5, port: 8080${downLast ? ', state: down' : ''} }
`;

kernelTest('kernel: maglev is sticky, and removing one of 4 backends remaps about 1/4 of the clients', async (t) => {
  await withTopology({ backends4: 4, backends6: 1, clients: 200 }, async (topo) => {
    await startBackends(topo, listenersFor(topo.backendV4, [8080]));
    await loadYaml(topo, maglev(false));
    const sources = topo.clientV4;
    const before = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: sources.length * 2, sources });
    const where = new Map<string, string>();
    for (const r of before) {
      t.truthy(r.backend, `client ${r.source} failed: ${r.error}`);
      const prev = where.get(r.source!);
      if (prev !== undefined) t.is(prev, r.backend as string, `client ${r.source} is sticky`);
      where.set(r.source!, r.backend!);
    }
    t.log('before', counts(before));
    t.is(Object.keys(counts(before)).length, 4);

    await loadYaml(topo, maglev(true));
    const after = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: sources.length, sources });
    let moved = 0;
    let movedSurvivors = 0;
    for (const r of after) {
      t.truthy(r.backend, `client ${r.source} failed after removal: ${r.error}`);
      t.not(r.backend, '198.51.100.5:8080', 'no client reaches the removed backend');
      const was = where.get(r.source!)!;
      if (was !== r.backend) moved++;
      if (was !== '198.51.100.5:8080' && was !== r.backend) movedSurvivors++;
    }
    const onRemoved = [...where.values()].filter((b) => b === '198.51.100.5:8080').length;
    const frac = moved / sources.length;
    t.log(
      `moved ${moved}/${sources.length} = ${(frac * 100).toFixed(1)}% (clients on the removed backend: ${onRemoved}); survivors moved: ${movedSurvivors}`,
    );
    t.true(frac >= 0.1 && frac <= 0.4, `remap fraction ${frac} near 1/4`);
    t.true(
      movedSurvivors <= Math.ceil(0.1 * (sources.length - onRemoved)),
      `clients of surviving backends mostly stay (${movedSurvivors} moved)`,
    );
  });
});
