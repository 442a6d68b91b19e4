// Service policies of the backend lifecycle against the real kernel: quorum and on-empty keep, with real servers and
// real client connections (the plan-level rules are unit-tested in test/health/plan-overlay.test.ts).
import { healthConfig, healthEnv, healthRound, landed, web, webBackends } from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';

kernelTest('health: below the quorum weight the backups join the remaining primaries', async (t) => {
  await withTopology({}, async (topo) => {
    const {
      b: [b0, b1, b2],
      servers,
      h,
    } = await webBackends(
      topo,
      ([x, y, z]) => [
        `{ address: ${x}, port: 8080, weight: 2 }`,
        `{ address: ${y}, port: 8080, weight: 2 }`,
        `{ address: ${z}, port: 8080, state: backup }`,
      ],
      '    quorum: 4',
    );
    await healthRound(topo, h);
    t.deepEqual(landed(await web(topo, 20)), { backends: [`${b0}:8080`, `${b1}:8080`], errors: 0 }, 'quorum met');
    await servers.stopOne(b0);
    await healthRound(topo, h);
    await healthRound(topo, h);
    t.deepEqual(
      landed(await web(topo, 20)),
      { backends: [`${b1}:8080`, `${b2}:8080`], errors: 0 },
      'healthy primary weight 2 < quorum 4: the backup joins',
    );
  });
});

kernelTest('health: on-empty keep goes on balancing over the last healthy set when every check fails', async (t) => {
  await withTopology({}, async (topo) => {
    const [b0, b1] = topo.backendV4 as [string, string];
    await startBackends(topo, listenersFor([b0, b1], [8080]));
    // The servers answer on 8080, but the checks probe port 9 where nothing listens: a broken health check.
    const failing = (b: string): string =>
      `{ address: ${b}, port: 8080, health: { type: tcp, port: 9, interval: 1, timeout: 0.5, rise: 2, fall: 2 } }`;
    const run = async (extra: string) => {
      const h = healthEnv(healthConfig(topo, [failing(b0), failing(b1)], extra));
      await healthRound(topo, h);
      await healthRound(topo, h);
      await healthRound(topo, h);
      return landed(await web(topo, 10));
    };
    t.deepEqual(await run(''), { backends: [], errors: 10 }, 'default on-empty reject: the service closes');
    t.deepEqual(
      await run('    on-empty: keep'),
      { backends: [`${b0}:8080`, `${b1}:8080`], errors: 0 },
      'on-empty keep: the last healthy set keeps taking connections',
    );
  });
});
