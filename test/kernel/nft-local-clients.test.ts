import { listenersFor, startBackends } from './support/backends.js';
import { probe, type ProbeResult } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { counts, loadYaml } from './support/nftlb.js';

// Connections opened on the LB host itself take the output hook (dispatch_out), not prerouting.
kernelTest(
  'kernel: clients on the LB host are balanced too (output hook), and the on-empty verdict of a closed service applies there too',
  async (t) => {
    await withTopology({ backends4: 3, backends6: 1, clients: 1 }, async (topo) => {
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      await loadYaml(
        topo,
        `
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: closed
    vip: 203.0.113.1
    port: 25
    on-empty: drop
    backends:
      - { address: 198.51.100.2, port: 8080, state: down }
`,
      );
      const fromLb = (port: number, count: number): Promise<ProbeResult[]> =>
        probe(topo, { ns: 'lb', target: topo.vip4, port, proto: 'tcp', count, timeoutMs: 2000 });
      t.deepEqual(counts(await fromLb(80, 30)), {
        '198.51.100.2:8080': 10,
        '198.51.100.3:8080': 10,
        '198.51.100.4:8080': 10,
      });
      // Nothing listens on the LB's own port 25, so without the on-empty verdict the kernel would answer with a reset (ECONNREFUSED);
      // the service's on-empty drop makes the connection time out instead.
      t.deepEqual(
        (await fromLb(25, 1)).map((r) => r.error),
        ['timeout'],
      );
    });
  },
);
