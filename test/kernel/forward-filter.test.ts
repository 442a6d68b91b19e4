// The forward filter with real connections: with `forward: { policy: drop }` a client reaches the backends through the
// VIP (TCP and UDP, IPv4 and IPv6, replies and related ICMP included) but not by their own addresses, and the drops are
// counted in `nftlb status`; the accept list lets the connections its prefixes open through, both ways, and nothing
// towards them; without the filter the client reaches the backends directly. Reloads that move the backend ids (a
// backend removed above others, a service inserted above) keep the established connections of the backends that stay.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { spawnNode } from './support/child.js';
import { openLongLived, probe, type LongLived, type ProbeResult } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { countersAgree } from './support/rule-counters.js';
import { nftlb, workDir, writeConfig } from './support/ops.js';
import { withTopology, type Topology } from './support/topology.js';

const services = (topo: Topology): string => `
services:
  - name: web
    vip: [${topo.vip4}, "${topo.vip6}"]
    port: 80
    backends:
      - { address: ${topo.backendV4[0]}, port: 8080 }
      - { address: ${topo.backendV4[1]}, port: 8080 }
      - { address: "${topo.backendV6[0]}", port: 8080 }
  - name: dns
    vip: ${topo.vip4}
    protocol: udp
    port: 53
    backends:
      - { address: ${topo.backendV4[0]}, port: 8053 }
  - name: closed
    vip: ${topo.vip4}
    protocol: udp
    port: 54
    backends:
      - { address: ${topo.backendV4[0]}, port: 8054 }
`;

// Where each connection landed, or its error.
const outcomes = (rs: readonly ProbeResult[]): string[] => rs.map((r) => r.backend ?? `error:${r.error ?? '?'}`);

kernelTest(
  'kernel forward filter: balanced connections pass both ways, direct ones are dropped and counted',
  async (t) => {
    await withTopology({ backends4: 2, backends6: 1, clients: 3 }, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
      await startBackends(topo, [
        ...listenersFor([...topo.backendV4, ...topo.backendV6], [8080]),
        { kind: 'udp', host: topo.backendV4[0]!, port: 8053 },
      ]);
      const [b1, b2] = topo.backendV4 as [string, string];
      const b6 = topo.backendV6[0]!;
      const apply = async (yaml: string): Promise<string> => {
        const file = writeConfig(dir, 'nftlb.yaml', yaml);
        const r = await nftlb(topo, ['apply', '-c', file], env);
        t.is(r.exitCode, EXIT.ok, r.stderr);
        return file;
      };
      const direct = (target: string, o: { sources?: string[]; ns?: string } = {}): Promise<ProbeResult[]> =>
        probe(topo, { target, port: 8080, proto: 'tcp', count: 2, timeoutMs: 1500, ...o });

      // With the filter: every balanced connection completes (the backend's reply is the proof that replies flow).
      const file = await apply(`forward: { policy: drop }\n${services(topo)}`);
      const via4 = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 10 });
      t.deepEqual(outcomes(via4).sort(), [...Array(5).fill(`${b1}:8080`), ...Array(5).fill(`${b2}:8080`)].sort());
      const via6 = await probe(topo, { target: topo.vip6, port: 80, proto: 'tcp', count: 4 });
      t.deepEqual(outcomes(via6), Array(4).fill(`[${b6}]:8080`));
      const udp = await probe(topo, { target: topo.vip4, port: 53, proto: 'udp', count: 4 });
      t.deepEqual(outcomes(udp), Array(4).fill(`${b1}:8053`));
      // Related ICMP: the backend's port unreachable for a UDP port nobody listens on reaches the client.
      const refused = await probe(topo, { target: topo.vip4, port: 54, proto: 'udp', count: 2, timeoutMs: 3000 });
      t.deepEqual(outcomes(refused), ['error:ECONNREFUSED', 'error:ECONNREFUSED']);

      // The backends' own addresses are out of reach (the SYN is dropped: no reset, no reply).
      t.deepEqual(outcomes(await direct(b1)), ['error:timeout', 'error:timeout']);
      t.deepEqual(outcomes(await direct(b6)), ['error:timeout', 'error:timeout']);
      // ...and the backends cannot open connections through the balancer either.
      const clientServer = spawnNode(
        topo,
        topo.client,
        'backend-server.js',
        ['--tcp', `${topo.clientV4[0]!}:7000`, '--max-seconds', '600'],
        'client-side server',
      );
      t.is(await clientServer.lines.next(10000), 'READY');
      const outbound = (): Promise<ProbeResult[]> =>
        probe(topo, {
          ns: topo.backend,
          target: topo.clientV4[0]!,
          port: 7000,
          proto: 'tcp',
          count: 2,
          timeoutMs: 1500,
        });
      t.deepEqual(outcomes(await outbound()), ['error:timeout', 'error:timeout']);

      // Every dropped packet is counted: at least the 8 SYNs above (retransmits add more).
      const status = JSON.parse((await nftlb(topo, ['status', '--json', '-c', file], env)).stdout) as {
        forward?: { policy: string; accept: string[]; dropped: { packets: number; bytes: number } | null };
      };
      t.is(status.forward?.policy, 'drop');
      t.true((status.forward?.dropped?.packets ?? 0) >= 6, JSON.stringify(status.forward));
      const dumped = await countersAgree(t, topo.exec, topo.lb, 'inet', 'nftlb');
      // Read later: the same drops, or more (a late retransmission).
      t.true((dumped.get('forward_filter')?.packets ?? -1) >= status.forward!.dropped!.packets);
      const prom = (await nftlb(topo, ['status', '--prometheus', '-c', file], env)).stdout;
      t.regex(prom, /^nftlb_forward_dropped_packets_total\{table="nftlb"\} \d+$/m);
      t.regex(
        (await nftlb(topo, ['status', '-c', file], env)).stdout,
        /forward filter: policy drop \(balanced connections only\); dropped \d+ packets/,
      );

      // accept: the listed sources' connections pass both ways (the backends' network opens a connection to the
      // client side; one client address reaches a backend directly); nothing passes towards them from elsewhere.
      const allowed = topo.clientV4[1]!;
      await apply(`forward: { policy: drop, accept: [198.51.100.0/24, ${allowed}] }\n${services(topo)}`);
      t.deepEqual(outcomes(await outbound()), [`${topo.clientV4[0]!}:7000`, `${topo.clientV4[0]!}:7000`]);
      t.deepEqual(outcomes(await direct(b2, { sources: [allowed] })), [`${b2}:8080`, `${b2}:8080`]);
      t.deepEqual(outcomes(await direct(b2, { sources: [topo.clientV4[0]!] })), ['error:timeout', 'error:timeout']);
      t.deepEqual(outcomes(await direct(b6)), ['error:timeout', 'error:timeout']);

      // Without the filter (the default) the client reaches the backends directly, and the VIP still works.
      await apply(services(topo));
      t.deepEqual(outcomes(await direct(b1)), [`${b1}:8080`, `${b1}:8080`]);
      t.deepEqual(outcomes(await direct(b6)), [`[${b6}]:8080`, `[${b6}]:8080`]);
      t.is(
        outcomes(await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 4 })).filter((x) =>
          x.startsWith('error'),
        ).length,
        0,
      );
      const ruleset = (await topo.exec(topo.lb, ['nft', 'list', 'ruleset'])).stdout;
      t.notRegex(ruleset, /forward_filter/);
      await clientServer.stop();
    });
  },
);

kernelTest(
  'kernel forward filter: reloads that move backend ids keep the established connections of the backends that stay',
  async (t) => {
    await withTopology({ backends4: 3, backends6: 2, clients: 2 }, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
      await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080]));
      const [b1, b2, b3] = topo.backendV4 as [string, string, string];
      const [b6a, b6b] = topo.backendV6 as [string, string];
      const web = (v4: readonly string[]): string => `
  - name: web
    vip: [${topo.vip4}, "${topo.vip6}"]
    port: 80
    backends:
${[...v4, ...[b6a, b6b].map((a) => `"${a}"`)].map((a) => `      - { address: ${a}, port: 8080 }`).join('\n')}
`;
      // A service above web: every id of web's backends moves by one.
      const above = `
  - name: api
    vip: ${topo.vip4}
    port: 81
    backends:
      - { address: ${b2}, port: 8081 }
`;
      const apply = async (yaml: string): Promise<void> => {
        const r = await nftlb(topo, ['apply', '-c', writeConfig(dir, 'nftlb.yaml', yaml)], env);
        t.is(r.exitCode, EXIT.ok, r.stderr);
      };
      const open: LongLived[] = [];
      topo.defer(async () => {
        for (const c of open) await c.close();
      });
      // Round robin: three connections over IPv4 land one on each backend, two over IPv6 one on each.
      await apply(`forward: { policy: drop }\nservices:${web([b1, b2, b3])}`);
      for (let i = 0; i < 3; i++) open.push(await openLongLived(topo, { target: topo.vip4, port: 80 }));
      for (let i = 0; i < 2; i++) open.push(await openLongLived(topo, { target: topo.vip6, port: 80 }));
      const by = new Map(open.map((c) => [c.backend, c]));
      t.deepEqual(
        [...by.keys()].sort(),
        [`${b1}:8080`, `${b2}:8080`, `${b3}:8080`, `[${b6a}]:8080`, `[${b6b}]:8080`].sort(),
      );
      const stay = [`${b2}:8080`, `${b3}:8080`, `[${b6a}]:8080`, `[${b6b}]:8080`];
      // A line over each connection that stays, and its backend's reply (the error when there is none).
      const replies = (): Promise<string[]> =>
        Promise.all(
          stay.map((b) =>
            by
              .get(b)!
              .ping()
              .catch((e: unknown) => `error: ${(e as Error).message}`),
          ),
        );

      // The first backend goes: the others' ids move down by one.
      await apply(`forward: { policy: drop }\nservices:${web([b2, b3])}`);
      t.deepEqual(await replies(), stay, 'after removing the first backend');
      // The removed backend's address is no backend's any more: its connection's packets are dropped.
      await t.throwsAsync(by.get(`${b1}:8080`)!.ping());
      // A service inserted above: every id of web moves up by one.
      await apply(`forward: { policy: drop }\nservices:${above}${web([b2, b3])}`);
      t.deepEqual(await replies(), stay, 'after inserting a service above');
    });
  },
);
