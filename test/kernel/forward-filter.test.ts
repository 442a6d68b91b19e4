// The forward filter with real connections: with `forward: { policy: drop }` a client reaches the backends through the
// VIP (TCP and UDP, IPv4 and IPv6, replies and related ICMP included) but not by their own addresses, and the drops are
// counted in `nftlb status`; the accept list lets the connections its prefixes open through, both ways, and nothing
// towards them; without the filter the client reaches the backends directly.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { spawnNode } from './support/child.js';
import { probe, type ProbeResult } from './support/client.js';
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
