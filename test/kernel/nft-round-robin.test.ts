import { probe } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { counts, loadYaml, longestRun } from './support/nftlb.js';

const config = `
services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    port: 80
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
      - { address: "2001:db8:2::3", port: 8080 }
      - { address: "2001:db8:2::4", port: 8080 }
  - name: dns
    vip: 203.0.113.1
    protocol: udp
    port: 53
    backends:
      - { address: 198.51.100.2, port: 8053 }
      - { address: 198.51.100.3, port: 8053 }
      - { address: 198.51.100.4, port: 8053 }
  - name: weighted
    vip: 203.0.113.1
    port: 81
    backends:
      - { address: 198.51.100.2, port: 8080, weight: 5 }
      - { address: 198.51.100.3, port: 8080, weight: 1 }
      - { address: 198.51.100.4, port: 8080, weight: 1 }
  - name: solo
    vip: "2001:db8:1::1"
    protocol: udp
    port: 53
    backends:
      - { address: "2001:db8:2::3", port: 8053 }
`;

kernelTest('kernel: round robin rotates exactly over TCP/UDP and IPv4/IPv6; weights interleave', async (t) => {
  await withTopology({ backends4: 3, backends6: 3 }, async (topo) => {
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080], [8053]));
    await loadYaml(topo, config);

    const tcp4 = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 30 });
    t.deepEqual(counts(tcp4), { '198.51.100.2:8080': 10, '198.51.100.3:8080': 10, '198.51.100.4:8080': 10 });
    t.is(longestRun(tcp4), 1, 'equal weights alternate every connection');

    const tcp6 = await probe(topo, { target: topo.vip6, port: 80, proto: 'tcp', count: 30 });
    t.deepEqual(counts(tcp6), { '[2001:db8:2::2]:8080': 10, '[2001:db8:2::3]:8080': 10, '[2001:db8:2::4]:8080': 10 });

    const udp4 = await probe(topo, { target: topo.vip4, port: 53, proto: 'udp', count: 30 });
    t.deepEqual(counts(udp4), { '198.51.100.2:8053': 10, '198.51.100.3:8053': 10, '198.51.100.4:8053': 10 });

    const udp6 = await probe(topo, { target: topo.vip6, port: 53, proto: 'udp', count: 5 });
    t.deepEqual(counts(udp6), { '[2001:db8:2::3]:8053': 5 }, 'one backend: every query, no modulo');

    const w = await probe(topo, { target: topo.vip4, port: 81, proto: 'tcp', count: 70 });
    t.deepEqual(counts(w), { '198.51.100.2:8080': 50, '198.51.100.3:8080': 10, '198.51.100.4:8080': 10 });
    t.true(longestRun(w) < 5, `5:1:1 never sends five in a row to the first (longest run ${longestRun(w)})`);
  });
});
