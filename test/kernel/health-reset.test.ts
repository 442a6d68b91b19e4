// on-down: keep leaves a down backend's established connections alone; reset deletes their conntrack entries (the
// connections to the service answered from the backend), so they break while new connections go elsewhere.
import type { Status } from '../../src/ops/status.js';
import { healthEnv, healthRound, landed, nftlbIn } from './support/health.js';
import { startBackends } from './support/backends.js';
import { openLongLived, probe, type LongLived } from './support/client.js';
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

kernelTest(
  'on-down reset and status after a reload that moved ids: they follow the connection to its backend, not its ct mark',
  async (t) => {
    await withTopology({}, async (topo) => {
      const [b0, b1, b2] = topo.backendV4 as [string, string, string];
      const servers = await startBackends(
        topo,
        [b0, b1, b2].flatMap((host) => [
          { kind: 'tcp' as const, host, port: 8080 },
          { kind: 'tcp' as const, host, port: 9000 },
        ]),
        { group: 'per-listener' },
      );
      const config = (backends: readonly string[]): string =>
        [
          'table: hc',
          'services:',
          '  - name: web',
          `    vip: ${topo.vip4}`,
          '    port: 80',
          '    on-down: reset',
          '    health: { type: tcp, port: 9000, rise: 1, fall: 1 }',
          '    backends:',
          ...backends.map((b) => `      - { address: ${b}, port: 8080 }`),
        ].join('\n');
      const h = healthEnv(config([b0, b1, b2]));
      await nftlbIn(topo, h, ['apply']);
      // One connection on each backend (round robin): their ct marks are 1, 2 and 3.
      const held = new Map<string, LongLived>();
      for (let i = 0; i < 9 && held.size < 3; i++) {
        const c = await openLongLived(topo, { target: topo.vip4, port: 80, timeoutMs: 2000 });
        topo.defer(() => c.close());
        if (held.has(c.backend)) await c.close();
        else held.set(c.backend, c);
      }
      const [on0, on1, on2] = [b0, b1, b2].map((b) => held.get(`${b}:8080`));
      if (on0 === undefined || on1 === undefined || on2 === undefined)
        return t.fail(`no connection on each backend: ${[...held.keys()].join(', ')}`);

      // b0 leaves: b1 is id 1 now and b2 id 2, while their connections keep marks 2 and 3. b0's connection ends (its
      // entry is deleted here, so only the connections of the backends in the config are left).
      h.write(config([b1, b2]));
      await nftlbIn(topo, h, ['apply']);
      await on0.close();
      await topo.exec(topo.lb, ['conntrack', '-D', '-r', b0], { reject: false });
      t.is(await on1.ping(), `${b1}:8080`);
      t.is(await on2.ping(), `${b2}:8080`);
      const counts = async (): Promise<Record<string, [number | null, number | null]>> => {
        const s = JSON.parse((await nftlbIn(topo, h, ['status', '--json'])).stdout) as Status;
        const web = s.services.find((x) => x.name === 'web')!;
        return Object.fromEntries(web.backends.map((b) => [b.endpoint, [b.connections, b.established]]));
      };
      t.deepEqual(await counts(), { [`${b1}:8080`]: [1, 1], [`${b2}:8080`]: [1, 1] }, 'CONNS and ESTAB per backend');

      // b2 fails its check: its connection is cut, b1's is not.
      await servers.stopOne(`${b2}:9000`);
      const r = await healthRound(topo, h);
      t.deepEqual(r.reset, [2], 'backend id 2 (b2) was reset');
      await t.throwsAsync(on2.ping(), undefined, "on-down reset: b2's connection is gone");
      t.is(await on1.ping(), `${b1}:8080`, "b1's connection (mark 2) still works");
      t.deepEqual(await counts(), { [`${b1}:8080`]: [1, 1], [`${b2}:8080`]: [0, 0] });
    });
  },
);
