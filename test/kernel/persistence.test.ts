// Persistence in the kernel: real connections from 20 client addresses through the rendered table.
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { loadYaml } from './support/nftlb.js';
import { clientsV6Apart, landing, liveEntries, sticky } from './support/persistence.js';
import { withTopology } from './support/topology.js';

const web = (persistence: string, extra = ''): string => `
services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 80
    ${persistence}
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
      - { address: "2001:db8:2::3", port: 8080 }
  - name: plain
    vip: 203.0.113.1
    port: 81
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
${extra}`;

kernelTest('kernel persistence: round robin keeps 20 clients on their backends (IPv4, IPv6, TCP, UDP)', async (t) => {
  await withTopology({ backends4: 3, backends6: 2, clients: 20 }, async (topo) => {
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080], [8080]));
    await loadYaml(topo, web('persistence: { netmask6: 96 }'));
    const v6 = await clientsV6Apart(topo, 20);
    // Without persistence, round robin moves every client on every connection (20 clients interleaved over 3).
    const plain = await landing(topo, { target: topo.vip4, port: 81, sources: topo.clientV4, rounds: 10 });
    t.true(
      [...plain.values()].every((bs) => bs.length === 3),
      'without persistence each client reaches all 3 backends',
    );
    const tcp4 = sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 10 }));
    t.is(tcp4.size, 20);
    t.deepEqual(new Set(tcp4.values()).size, 3, 'the first connections were spread by round robin');
    const udp4 = sticky(
      await landing(topo, { target: topo.vip4, port: 80, proto: 'udp', sources: topo.clientV4, rounds: 10 }),
    );
    t.deepEqual(udp4, tcp4, 'UDP flows of a client follow its entry');
    const tcp6 = sticky(await landing(topo, { target: topo.vip6, port: 80, sources: v6, rounds: 10 }));
    t.is(tcp6.size, 20);
    t.is(new Set(tcp6.values()).size, 2);
    t.is((await liveEntries(topo, 'persist4')).length, 20);
    t.is((await liveEntries(topo, 'persist6')).length, 20);
  });
});
