import { probe, openLongLived, type LongLived } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { counts, loadYaml } from './support/nftlb.js';
import { connectBurst, waitEstablished } from './support/limits.js';

// Backend ids follow config order: web's backends are ct mark 1 and 2.
const config = `
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    limit-overflow: reject
    backends:
      - { address: 198.51.100.2, port: 8080, max-connections: 2 }
      - { address: 198.51.100.3, port: 8080, max-connections: 2 }
  - name: rated
    vip: 203.0.113.1
    port: 81
    rate-limit: { rate: 5, burst: 5 }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
  - name: open
    vip: 203.0.113.1
    port: 82
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`;

kernelTest(
  'kernel: max-connections 2 on each of 2 backends: 4 connections held, the 5th and 6th refused, one closed lets a new one in',
  async (t) => {
    await withTopology({ backends4: 2 }, async (topo) => {
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      await loadYaml(topo, config);
      const held: LongLived[] = [];
      for (let i = 0; i < 4; i++) held.push(await openLongLived(topo, { target: topo.vip4, port: 80 }));
      t.deepEqual(held.map((c) => c.backend).sort(), [
        '198.51.100.2:8080',
        '198.51.100.2:8080',
        '198.51.100.3:8080',
        '198.51.100.3:8080',
      ]);
      for (const c of held) t.is(await c.ping(), c.backend, 'held connections keep working at the limit');

      const over = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 2, timeoutMs: 2000 });
      t.deepEqual(counts(over), { 'error:ECONNREFUSED': 2 }, 'both backends are full: new connections get a TCP reset');
      for (const c of held) t.is(await c.ping(), c.backend, 'refusing new ones leaves the held ones alone');

      // Round robin: the 7th connection goes where the 1st went; free a place there.
      const freed = held[0]!;
      await freed.close();
      await waitEstablished(topo, freed.backend === '198.51.100.2:8080' ? 1 : 2, 1);
      const again = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 1, timeoutMs: 2000 });
      t.deepEqual(counts(again), { [freed.backend]: 1 }, 'a closed connection no longer counts');

      const status = await topo.exec(topo.lb, ['nft', 'list', 'chain', 'inet', 'nftlb', 'conn_limit']);
      t.regex(
        status.stdout,
        /ct mark 0x00000001 ct count over 2 counter packets [1-9]/,
        'the refusals were counted by the backend rule',
      );
      for (const c of held.slice(1)) await c.close();
    });
  },
);

kernelTest(
  'kernel: rate-limit 5/second burst 5: of 40 connections opened at once, at least 5 connect and at least 20 are dropped',
  async (t) => {
    await withTopology({ backends4: 2 }, async (topo) => {
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      await loadYaml(topo, config);
      const r = await connectBurst(topo, topo.vip4, 81, 40);
      t.log(`connected ${r.ok}, failed ${JSON.stringify(r.failed)}`);
      t.true(r.ok >= 5, `the burst allowance lets at least 5 in (got ${r.ok})`);
      t.true(40 - r.ok >= 20, `at least 20 of 40 are dropped (got ${40 - r.ok})`);
      t.deepEqual(Object.keys(r.failed), ['timeout'], 'excess SYNs are dropped, not refused');
      const free = await connectBurst(topo, topo.vip4, 82, 40);
      t.is(free.ok, 40, 'the same burst to a service without limits all connects');
    });
  },
);
