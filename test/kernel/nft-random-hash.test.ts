import { probe } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { counts, loadYaml, sharesWithin3Sigma } from './support/nftlb.js';

kernelTest('kernel: weighted random stays within 3 sigma (TCP and UDP)', async (t) => {
  await withTopology({ backends4: 3, backends6: 1 }, async (topo) => {
    await startBackends(topo, listenersFor(topo.backendV4, [8080], [8053]));
    await loadYaml(
      topo,
      `
services:
  - name: rnd
    vip: 203.0.113.1
    protocol: [tcp, udp]
    port: 80
    scheduler: random
    backends:
      - { address: 198.51.100.2, port: 8080, weight: 5 }
      - { address: 198.51.100.3, port: 8080, weight: 3 }
      - { address: 198.51.100.4, port: 8080, weight: 2 }
  - name: rndu
    vip: 203.0.113.1
    protocol: udp
    port: 53
    scheduler: random
    backends:
      - { address: 198.51.100.2, port: 8053, weight: 1 }
      - { address: 198.51.100.3, port: 8053, weight: 1 }
`,
    );
    const n = 300;
    const tcp = await sharesWithin3Sigma(
      async () => counts(await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: n })),
      n,
      { '198.51.100.2:8080': 0.5, '198.51.100.3:8080': 0.3, '198.51.100.4:8080': 0.2 },
    );
    t.log(tcp.samples);
    t.true(tcp.ok, tcp.why);
    const udp = await sharesWithin3Sigma(
      async () => counts(await probe(topo, { target: topo.vip4, port: 53, proto: 'udp', count: 200 })),
      200,
      { '198.51.100.2:8053': 0.5, '198.51.100.3:8053': 0.5 },
    );
    t.log(udp.samples);
    t.true(udp.ok, udp.why);
    for (const u of udp.samples) t.is((u['198.51.100.2:8053'] ?? 0) + (u['198.51.100.3:8053'] ?? 0), 200);
  });
});

const sticky = `
services:
  - name: sticky
    vip: ["203.0.113.1", "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 80
    scheduler: source-hash
    hash: { fields: [saddr], seed: 0xdeadbeef }
    backends:
${[2, 3, 4].map((i) => `      - { address: 198.51.100.${i}, port: 8080 }\n      - { address: "2001:db8:2::${i}", port: 8080 }`).join('\n')}
`;

kernelTest(
  'kernel: source-hash is sticky per client and spread across clients (IPv4 and IPv6, stable across reload)',
  async (t) => {
    await withTopology({ backends4: 3, backends6: 3, clients: 60 }, async (topo) => {
      await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080]));
      const script = await loadYaml(topo, sticky);
      for (const [vip, sources] of [
        [topo.vip4, topo.clientV4],
        [topo.vip6, topo.clientV6],
      ] as const) {
        const first = await probe(topo, { target: vip, port: 80, proto: 'tcp', count: sources.length * 3, sources });
        t.false(
          first.some((r) => r.backend === null),
          'every connection answered',
        );
        const byClient = new Map<string, Set<string>>();
        for (const r of first) byClient.set(r.source!, (byClient.get(r.source!) ?? new Set()).add(r.backend!));
        t.true(
          [...byClient.values()].every((s) => s.size === 1),
          'each client always lands on one backend',
        );
        const spread = counts(first);
        t.log(vip, spread);
        t.is(Object.keys(spread).length, 3, 'clients spread over all three backends');
        // A reload with the same config (same explicit seed) maps every client the same way.
        await topo.nft(script);
        const again = await probe(topo, { target: vip, port: 80, proto: 'tcp', count: sources.length, sources });
        for (const r of again) t.true(byClient.get(r.source!)?.has(r.backend!), `${r.source} moved after reload`);
      }
    });
  },
);

kernelTest('kernel: symmetric-hash spreads connections (per connection, ports included)', async (t) => {
  await withTopology({ backends4: 3, backends6: 1 }, async (topo) => {
    await startBackends(topo, listenersFor(topo.backendV4, [8080], [8053]));
    await loadYaml(
      topo,
      `
services:
  - name: sym
    vip: 203.0.113.1
    protocol: [tcp, udp]
    port: 80
    scheduler: symmetric-hash
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
`,
    );
    const third = 1 / 3;
    const spread = await sharesWithin3Sigma(
      async () =>
        counts(
          await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 90, sources: [topo.clientV4[0]!] }),
        ),
      90,
      { '198.51.100.2:8080': third, '198.51.100.3:8080': third, '198.51.100.4:8080': third },
    );
    t.log(spread.samples);
    for (const c of spread.samples) {
      t.false(
        Object.keys(c).some((k) => k.startsWith('error')),
        JSON.stringify(c),
      );
      t.is(Object.keys(c).length, 3, 'source ports differ, so one client reaches all backends');
    }
    t.true(spread.ok, spread.why);
  });
});
