import { probe } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { counts, loadYaml } from './support/nftlb.js';

kernelTest('kernel: port ranges and lists keep the destination port', async (t) => {
  await withTopology({ backends4: 2, backends6: 1 }, async (topo) => {
    await startBackends(topo, listenersFor(topo.backendV4, [8080, 8081, 9000]));
    await loadYaml(
      topo,
      `
services:
  - name: multi
    vip: 203.0.113.1
    port: ["8080-8081", 9000]
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
`,
    );
    for (const port of [8080, 8081, 9000]) {
      const c = counts(await probe(topo, { target: topo.vip4, port, proto: 'tcp', count: 4 }));
      t.deepEqual(c, { [`198.51.100.2:${port}`]: 2, [`198.51.100.3:${port}`]: 2 }, `port ${port}`);
    }
  });
});

kernelTest(
  'kernel: a service with no backend up rejects (TCP reset, ICMP unreachable) or drops new connections',
  async (t) => {
    await withTopology({ backends4: 2, backends6: 2 }, async (topo) => {
      await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080], [8053]));
      await loadYaml(
        topo,
        `
services:
  - name: closed
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 25
    backends:
      - { address: 198.51.100.2, port: 8080, state: down }
      - { address: "2001:db8:2::2", port: 8080, state: down }
  - name: silent
    vip: 203.0.113.1
    port: 26
    on-empty: drop
    backends:
      - { address: 198.51.100.2, port: 8080, state: down }
  - name: open
    vip: 203.0.113.1
    port: 80
    backends:
      - { address: 198.51.100.3, port: 8080 }
`,
      );
      for (const vip of [topo.vip4, topo.vip6]) {
        const tcp = await probe(topo, { target: vip, port: 25, proto: 'tcp', count: 2, timeoutMs: 2000 });
        t.deepEqual(
          tcp.map((r) => r.error),
          ['ECONNREFUSED', 'ECONNREFUSED'],
          `tcp reset from ${vip}`,
        );
      }
      const udp = await probe(topo, { target: topo.vip4, port: 25, proto: 'udp', count: 2, timeoutMs: 2000 });
      t.deepEqual(
        udp.map((r) => r.error),
        ['ECONNREFUSED', 'ECONNREFUSED'],
        'ICMP port unreachable for UDP',
      );
      const dropped = await probe(topo, { target: topo.vip4, port: 26, proto: 'tcp', count: 1, timeoutMs: 1500 });
      t.deepEqual(
        dropped.map((r) => r.error),
        ['timeout'],
        'drop: no answer at all',
      );
      t.deepEqual(
        counts(await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 2 })),
        { '198.51.100.3:8080': 2 },
        'other services unaffected',
      );
    });
  },
);
