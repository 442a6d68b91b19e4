// The iptables render, loaded with iptables-restore (nf_tables backend, and legacy when the kernel has it), serves the
// same traffic the nft script does: exact round robin in plan order, weighted round robin, weighted random within
// 3 sigma, sticky source hash, the same NAT, ct mark = backend id, the empty-service guard, and reloads that keep
// established connections.
import type { ExecutionContext } from 'ava';
import { counts, sharesWithin3Sigma } from './support/nftlb.js';
import {
  backendUsable,
  conntrackByMark,
  loadIptables,
  loadYamlIptables,
  planYaml,
  tool,
  type IptBackend,
} from './iptables-lib.js';
import { renderIptablesScript } from '../../src/iptables/script.js';
import { listenersFor, startBackends } from './support/backends.js';
import { openLongLived, probe } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

const be = (host: string, port = 8080): string => `${host}:${port}`;

const SCHEDULERS = `
services:
  - name: rr
    vip: 203.0.113.1
    port: 80
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: wrr
    vip: 203.0.113.1
    port: 81
    backends:
      - { address: 198.51.100.2, port: 8080, weight: 3 }
      - { address: 198.51.100.3, port: 8080, weight: 2 }
      - { address: 198.51.100.4, port: 8080, weight: 1 }
  - name: rnd
    vip: 203.0.113.1
    protocol: [tcp, udp]
    port: 82
    scheduler: random
    backends:
      - { address: 198.51.100.2, port: 8080, weight: 5 }
      - { address: 198.51.100.3, port: 8080, weight: 3 }
      - { address: 198.51.100.4, port: 8080, weight: 2 }
  - name: direct
    vip: 203.0.113.1
    port: 83
    nat: none
    backends:
      - { address: 198.51.100.3, port: 8080 }
  - name: snatted
    vip: 203.0.113.1
    port: 84
    nat: { snat: 198.51.100.200 }
    backends:
      - { address: 198.51.100.4, port: 8080 }
`;

// Runs fn for a backend, or logs loudly why it cannot (legacy is optional; the nft backend must work).
async function withBackend(
  t: ExecutionContext,
  backend: IptBackend,
  opts: Parameters<typeof withTopology>[0],
  fn: (topo: Topology) => Promise<void>,
): Promise<void> {
  await withTopology(opts, async (topo) => {
    const usable = await backendUsable(topo, backend);
    if (!usable.ok) {
      if (backend === 'nft') t.fail(`iptables nft backend unusable: ${usable.reason}`);
      else {
        console.error(`IPTABLES-LEGACY TEST SKIPPED: ${usable.reason} (${t.title})`);
        t.log(`IPTABLES-LEGACY TEST SKIPPED: ${usable.reason}`);
        t.pass();
      }
      return;
    }
    await fn(topo);
  });
}

// The backend each slot of a pool names, as the probe reports it.
function slotBackends(yaml: string, service: string): string[] {
  const s = planYaml(yaml).services.find((x) => x.name === service)!;
  return s.pools[0]!.slots.map((id) => s.backends.find((b) => b.id === id)!.endpoint);
}

for (const backend of ['nft', 'legacy'] as const) {
  kernelTest(
    `iptables-${backend}: round robin exact in plan order, weighted round robin exact, random within 3 sigma, NAT modes`,
    async (t) => {
      await withBackend(t, backend, { backends4: 3, backends6: 0, clients: 20 }, async (topo) => {
        await startBackends(topo, listenersFor(topo.backendV4, [8080]));
        await topo.exec(topo.lb, ['ip', 'addr', 'add', '198.51.100.200/32', 'dev', topo.lbBackendIf]);
        await loadYamlIptables(topo, SCHEDULERS, 4, backend);

        const rr = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 30, sources: topo.clientV4 });
        t.deepEqual(
          rr.map((r) => r.backend),
          Array.from({ length: 10 }, () => slotBackends(SCHEDULERS, 'rr')).flat(),
          'rr: every 3 connections visit b1 b2 b3 in order',
        );
        t.true(
          rr.every((r) => r.peer === '198.51.100.1'),
          'masquerade: backends see the lb',
        );

        const wrr = await probe(topo, { target: topo.vip4, port: 81, proto: 'tcp', count: 60, sources: topo.clientV4 });
        const order = slotBackends(SCHEDULERS, 'wrr');
        t.is(order.length, 6);
        t.deepEqual(
          wrr.map((r) => r.backend),
          Array.from({ length: 10 }, () => order).flat(),
          'wrr: the smooth 3:2:1 sequence, exactly',
        );

        const n = 300;
        const rnd = await sharesWithin3Sigma(
          async () =>
            counts(await probe(topo, { target: topo.vip4, port: 82, proto: 'tcp', count: n, sources: topo.clientV4 })),
          n,
          { [be('198.51.100.2')]: 0.5, [be('198.51.100.3')]: 0.3, [be('198.51.100.4')]: 0.2 },
        );
        t.log('random 5:3:2 over 300:', rnd.samples);
        t.true(rnd.ok, rnd.why);

        const direct = await probe(topo, {
          target: topo.vip4,
          port: 83,
          proto: 'tcp',
          count: 4,
          sources: topo.clientV4,
        });
        t.deepEqual(
          direct.map((r) => [r.backend, r.peer]),
          topo.clientV4.slice(0, 4).map((c) => [be('198.51.100.3'), c]),
          'nat: none keeps the client address',
        );
        const snat = await probe(topo, { target: topo.vip4, port: 84, proto: 'tcp', count: 4, sources: topo.clientV4 });
        t.deepEqual(
          snat.map((r) => [r.backend, r.peer]),
          Array.from({ length: 4 }, () => [be('198.51.100.4'), '198.51.100.200']),
          'snat address',
        );
      });
    },
  );

  kernelTest(
    `iptables-${backend}: source-hash sticky across reloads, ct mark = backend id, reloads keep established connections, empty-service guard`,
    async (t) => {
      await withBackend(t, backend, { backends4: 3, backends6: 0, clients: 40 }, async (topo) => {
        await startBackends(topo, listenersFor(topo.backendV4, [8080]));
        const yaml = (keepDown: boolean): string => `
services:
  - name: sticky
    vip: 203.0.113.1
    port: 80
    scheduler: source-hash
    hash: { seed: 0xdeadbeef }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: keep
    vip: 203.0.113.1
    port: 85
    backends:
      - { address: 198.51.100.2, port: 8080${keepDown ? ', state: down' : ''} }
      - { address: 198.51.100.3, port: 8080 }
  - name: closed
    vip: 203.0.113.1
    port: 86
    on-empty: drop
    backends:
      - { address: 198.51.100.4, port: 8080, state: down }
`;
        const first = await loadYamlIptables(topo, yaml(false), 4, backend);
        const sources = topo.clientV4;
        const round = await probe(topo, {
          target: topo.vip4,
          port: 80,
          proto: 'tcp',
          count: sources.length * 3,
          sources,
        });
        t.false(
          round.some((r) => r.backend === null),
          'every connection answered',
        );
        const byClient = new Map<string, Set<string>>();
        for (const r of round) byClient.set(r.source!, (byClient.get(r.source!) ?? new Set()).add(r.backend!));
        t.true(
          [...byClient.values()].every((s) => s.size === 1),
          'each client always lands on one backend',
        );
        t.log('source-hash spread over 40 clients x 3:', counts(round));
        t.is(Object.keys(counts(round)).length, 3, 'clients spread over all three backends');

        // keep: first connection takes slot 0 = backend id 4 (198.51.100.2).
        const conn = await openLongLived(topo, { target: topo.vip4, port: 85, source: sources[0] });
        t.is(conn.backend, be('198.51.100.2'));
        t.is(await conntrackByMark(topo, 4), 1, 'conntrack -L --mark 4 lists the connection of backend id 4');

        // Same rules again: chains are flushed and refilled in one commit; the connection keeps its backend.
        await loadIptables(topo, first, 4, backend);
        t.is(await conn.ping(), conn.backend);
        // Backend 198.51.100.2 of keep goes down: established connection stays, new ones avoid it.
        await loadYamlIptables(topo, yaml(true), 4, backend);
        t.is(await conn.ping(), conn.backend, 'established connection survives its backend going down');
        const after = await probe(topo, { target: topo.vip4, port: 85, proto: 'tcp', count: 6, sources });
        t.deepEqual(
          after.map((r) => r.backend),
          Array.from({ length: 6 }, () => be('198.51.100.3')),
        );
        const again = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: sources.length, sources });
        for (const r of again) t.true(byClient.get(r.source!)?.has(r.backend!), `${r.source} moved after reload`);
        await conn.close();

        // closed (on-empty: drop) on a local VIP: without the guard the lb itself would answer with a reset.
        const closed = await probe(topo, {
          target: topo.vip4,
          port: 86,
          proto: 'tcp',
          count: 2,
          timeoutMs: 800,
          sources,
        });
        t.true(
          closed.every((r) => r.backend === null && r.error !== 'ECONNREFUSED'),
          JSON.stringify(closed),
        );
        const guard = await topo.exec(topo.lb, [
          tool(4, backend, ''),
          '-t',
          'filter',
          '-L',
          'NFTLB-GUARD',
          '-v',
          '-n',
          '-x',
        ]);
        const dropped = guard.stdout.split('\n').find((l) => l.includes('DROP'));
        t.truthy(dropped, guard.stdout);
        t.true(Number(dropped!.trim().split(/\s+/)[0]) >= 2, `guard counted the SYNs: ${dropped}`);
      });
    },
  );
}

kernelTest(
  'ip6tables-nft: IPv6 round robin exact and masquerade, IPv4 and IPv6 renders loaded side by side',
  async (t) => {
    await withBackend(t, 'nft', { backends4: 2, backends6: 3, clients: 10 }, async (topo) => {
      await startBackends(topo, [...listenersFor(topo.backendV6, [8080]), ...listenersFor(topo.backendV4, [8080])]);
      const yaml = `
services:
  - name: web
    vip: ["203.0.113.1", "2001:db8:1::1"]
    port: 80
    backends:
      - { address: "2001:db8:2::2", port: 8080 }
      - { address: 198.51.100.2, port: 8080 }
      - { address: "2001:db8:2::3", port: 8080 }
      - { address: "2001:db8:2::4", port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`;
      const p = planYaml(yaml);
      await loadIptables(topo, renderIptablesScript(p, 4), 4, 'nft');
      await loadIptables(topo, renderIptablesScript(p, 6), 6, 'nft');
      const v6 = await probe(topo, { target: topo.vip6, port: 80, proto: 'tcp', count: 30, sources: topo.clientV6 });
      t.deepEqual(
        v6.map((r) => r.backend),
        Array.from({ length: 10 }, () => [
          '[2001:db8:2::2]:8080',
          '[2001:db8:2::3]:8080',
          '[2001:db8:2::4]:8080',
        ]).flat(),
      );
      t.true(v6.every((r) => r.peer === '2001:db8:2::1'));
      const v4 = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 10, sources: topo.clientV4 });
      t.deepEqual(counts(v4), { [be('198.51.100.2')]: 5, [be('198.51.100.3')]: 5 });
    });
  },
);
