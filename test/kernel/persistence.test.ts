// Persistence in the kernel: real connections from 20 client addresses through the rendered table.
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { loadYaml } from './support/nftlb.js';
import { clientsV6Apart, landing, liveEntries, sticky, waitForEntries, type Landing } from './support/persistence.js';
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

const one = (persistence: string): string => `
services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    port: 80
    persistence: ${persistence}
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
      - { address: "2001:db8:2::3", port: 8080 }
`;

kernelTest('kernel persistence: entries expire after the timeout; a new connection restarts it', async (t) => {
  await withTopology({ backends4: 3, backends6: 2, clients: 2 }, async (topo) => {
    await startBackends(topo, listenersFor(topo.backendV4, [8080]));
    await loadYaml(topo, one('{ timeout: 30 }'));
    const client = topo.clientV4[0]!;
    const connect = (): Promise<Landing> =>
      landing(topo, { target: topo.vip4, port: 80, sources: [client], rounds: 1 });
    await connect();
    // Refresh: once the entry has aged (its expires below the timeout), a new connection starts the timeout again.
    const aged = await waitForEntries(topo, 'persist4', (es) => es.length === 1 && es[0]!.expires! <= 28, {
      intervalMs: 250,
      tries: 80,
    });
    await connect();
    const fresh = await liveEntries(topo, 'persist4');
    t.is(fresh.length, 1);
    t.true(fresh[0]!.expires! > aged[0]!.expires!, `expires ${aged[0]!.expires} -> ${fresh[0]!.expires}`);

    await loadYaml(topo, one('{ timeout: 2 }'));
    await connect();
    t.is((await liveEntries(topo, 'persist4')).length, 1);
    // Gone after the timeout (polled, bounded by count), and made again by the next connection.
    await waitForEntries(topo, 'persist4', (es) => es.length === 0, { intervalMs: 250, tries: 120 });
    t.pass('the entry expired');
    await connect();
    t.is((await liveEntries(topo, 'persist4')).length, 1);
  });
});

kernelTest('kernel persistence: netmask groups clients (IPv4 /28, IPv6 /64)', async (t) => {
  await withTopology({ backends4: 3, backends6: 2, clients: 20 }, async (topo) => {
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080]));
    await loadYaml(topo, one('{ netmask: 28, netmask6: 64 }'));
    const v4 = sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 5 }));
    // 203.0.113.10-15 are in .0/28, 203.0.113.16-29 in .16/28: one backend per group, two entries.
    const group = (c: string): number => (Number(c.split('.')[3]) < 16 ? 0 : 1);
    for (const g of [0, 1]) {
      const bs = new Set([...v4].filter(([c]) => group(c) === g).map(([, b]) => b));
      t.is(bs.size, 1, `group ${g}: ${[...bs].join(',')}`);
    }
    t.not([...v4].find(([c]) => group(c) === 0)![1], [...v4].find(([c]) => group(c) === 1)![1]);
    t.is((await liveEntries(topo, 'persist4')).length, 2);
    // Twenty IPv6 clients of one /64 (in twenty /96s): one entry, one backend.
    const v6 = sticky(
      await landing(topo, { target: topo.vip6, port: 80, sources: await clientsV6Apart(topo, 20), rounds: 3 }),
    );
    t.is(new Set(v6.values()).size, 1);
    t.is((await liveEntries(topo, 'persist6')).length, 1);
  });
});

kernelTest(
  'kernel persistence: a full map leaves new clients to the scheduler; clients with entries stay',
  async (t) => {
    await withTopology({ backends4: 3, backends6: 0, clients: 20 }, async (topo) => {
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      await loadYaml(
        topo,
        one('{ size: 4 }')
          .replace(', "2001:db8:1::1"', '')
          .replace(/^.*2001:db8:2.*\n/gm, ''),
      );
      const l = await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 5 });
      const entries = await liveEntries(topo, 'persist4');
      t.is(entries.length, 4, 'the map holds its size');
      // The first four clients connected first and got the entries; each of the others was balanced anew every time.
      const first = topo.clientV4.slice(0, 4);
      t.deepEqual(entries.map((e) => String(e.key[0])).sort(), [...first].sort());
      for (const [client, backends] of l) {
        if (first.includes(client)) t.is(backends.length, 1, `${client} has an entry`);
        else t.true(backends.length >= 2, `${client} without an entry: ${backends.join(',')}`);
      }
    });
  },
);
