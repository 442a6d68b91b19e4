// on-down: keep leaves a down backend's established connections alone; reset deletes their conntrack entries
// (ct mark = backend id), so they break while new connections go elsewhere.
import { healthEnv, healthRound, landed } from './support/health.js';
import { startBackends } from './support/backends.js';
import { openLongLived, probe } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';

kernelTest(
  'health: on-down reset cuts the established connections of a backend that goes down; on-down keep does not',
  async (t) => {
    await withTopology({}, async (topo) => {
      const [b0, b1] = topo.backendV4 as [string, string];
      // The health port (9000) runs in its own process, so the check can fail while 8080 keeps serving.
      const servers = await startBackends(
        topo,
        [b0, b1].flatMap((host) => [
          { kind: 'tcp' as const, host, port: 8080 },
          { kind: 'tcp' as const, host, port: 9000 },
        ]),
        { group: 'per-listener' },
      );
      const svc = (name: string, port: number, onDown: string): string[] => [
        `  - name: ${name}`,
        `    vip: ${topo.vip4}`,
        `    port: ${port}`,
        `    on-down: ${onDown}`,
        '    scheduler: source-hash',
        '    health: { type: tcp, port: 9000, rise: 1, fall: 1 }',
        '    backends:',
        `      - { address: ${b0}, port: 8080 }`,
        `      - { address: ${b1}, port: 8080 }`,
      ];
      const h = healthEnv(
        ['table: hc', 'services:', ...svc('cut', 80, 'reset'), ...svc('kept', 81, 'keep')].join('\n'),
      );
      await healthRound(topo, h);
      // Find a client address that the source hash sends to b1 on both services.
      let source: string | undefined;
      for (const s of topo.clientV4.slice(0, 30)) {
        const [a, b] = await Promise.all(
          [80, 81].map((port) =>
            probe(topo, { target: topo.vip4, port, proto: 'tcp', count: 1, sources: [s], timeoutMs: 2000 }),
          ),
        );
        if (a?.[0]?.backend === `${b1}:8080` && b?.[0]?.backend === `${b1}:8080`) {
          source = s;
          break;
        }
      }
      if (source === undefined) return t.fail('no client address hashes to b1 on both services');
      const cut = await openLongLived(topo, { target: topo.vip4, port: 80, source, timeoutMs: 2000 });
      const kept = await openLongLived(topo, { target: topo.vip4, port: 81, source, timeoutMs: 2000 });
      t.is(cut.backend, `${b1}:8080`);
      t.is(await cut.ping(), `${b1}:8080`);

      await servers.stopOne(`${b1}:9000`);
      const r = await healthRound(topo, h);
      t.deepEqual(r.reset, [1 + 1], 'backend id 2 (b1 of service cut) was reset');
      t.is(await kept.ping(), `${b1}:8080`, 'on-down keep: the established connection still works');
      await t.throwsAsync(cut.ping(), undefined, 'on-down reset: the established connection is gone');
      const fresh = await probe(topo, {
        target: topo.vip4,
        port: 80,
        proto: 'tcp',
        count: 10,
        sources: [source],
        timeoutMs: 2000,
      });
      t.deepEqual(landed(fresh), { backends: [`${b0}:8080`], errors: 0 });
      await kept.close();
      await cut.close();
    });
  },
);
