import { probe } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { loadYaml } from './support/nftlb.js';

const config = `
services:
  - name: masq
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 80
    nat: masquerade
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
  - name: direct
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 81
    nat: none
    backends:
      - { address: 198.51.100.3, port: 8080 }
      - { address: "2001:db8:2::3", port: 8080 }
  - name: snat
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 82
    nat: { snat: [203.0.113.250, "2001:db8:1::250"] }
    backends:
      - { address: 198.51.100.4, port: 8080 }
      - { address: "2001:db8:2::4", port: 8080 }
  - name: dnsmasq
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: udp
    port: 53
    nat: { snat: [203.0.113.250, "2001:db8:1::250"] }
    backends:
      - { address: 198.51.100.4, port: 8053 }
      - { address: "2001:db8:2::4", port: 8053 }
`;

kernelTest('kernel: the source address each backend sees matches the NAT mode (TCP/UDP, IPv4/IPv6)', async (t) => {
  await withTopology(
    { backends4: 3, backends6: 3, lbExtraV4: ['203.0.113.250'], lbExtraV6: ['2001:db8:1::250'] },
    async (topo) => {
      await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080], [8053]));
      await loadYaml(topo, config);
      const cases = [
        { port: 80, v4: '198.51.100.1', v6: '2001:db8:2::1', what: 'masquerade: the LB address towards the backend' },
        { port: 81, v4: topo.clientV4[0]!, v6: topo.clientV6[0]!, what: 'none: the client address' },
        { port: 82, v4: '203.0.113.250', v6: '2001:db8:1::250', what: 'snat: the configured address' },
      ];
      for (const c of cases) {
        for (const [vip, src, want] of [
          [topo.vip4, topo.clientV4[0]!, c.v4],
          [topo.vip6, topo.clientV6[0]!, c.v6],
        ] as const) {
          const r = await probe(topo, { target: vip, port: c.port, proto: 'tcp', count: 3, sources: [src] });
          t.deepEqual(
            r.map((x) => x.peer),
            [want, want, want],
            `${c.what} (${vip} tcp ${c.port}): ${JSON.stringify(r)}`,
          );
        }
      }
      for (const [vip, want] of [
        [topo.vip4, '203.0.113.250'],
        [topo.vip6, '2001:db8:1::250'],
      ] as const) {
        const u = await probe(topo, { target: vip, port: 53, proto: 'udp', count: 3 });
        t.deepEqual(
          u.map((x) => x.peer),
          [want, want, want],
          `udp snat ${vip}: ${JSON.stringify(u)}`,
        );
      }
    },
  );
});
