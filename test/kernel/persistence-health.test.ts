// Persistence with nftlb health: its incremental updates and its full reloads keep the entries; the clients of a
// backend that went down land elsewhere on their next connection and stay there when it comes back.
import { listenersFor, startBackends } from './support/backends.js';
import { healthConfig, healthRound, webBackends } from './support/health.js';
import { kernelTest } from './support/kernel-test.js';
import { landing, liveEntries, sticky } from './support/persistence.js';
import { withTopology } from './support/topology.js';

kernelTest('kernel persistence: health updates keep entries; a down backend loses its clients at once', async (t) => {
  await withTopology({ backends4: 3, backends6: 0, clients: 20 }, async (topo) => {
    const { b, servers, h } = await webBackends(topo, undefined, '    persistence: {}');
    const [b0, b1, b2] = b;
    const where = async (): Promise<Map<string, string>> =>
      sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 10 }));
    t.is((await healthRound(topo, h)).action, 'full');
    // Rise 2: the second round finds every backend up (no membership change).
    await healthRound(topo, h);
    const first = await where();
    t.is(new Set(first.values()).size, 3);

    await servers.stopOne(b1);
    let down = await healthRound(topo, h);
    for (let i = 0; i < 5 && down.action !== 'incremental'; i++) down = await healthRound(topo, h);
    t.is(down.action, 'incremental', 'fall 2: the second failed check takes it out with an incremental update');
    const moved = await where();
    for (const [client, backend] of first) {
      if (backend === `${b1}:8080`) t.not(moved.get(client), backend, `${client} left the down backend`);
      else t.is(moved.get(client), backend, `${client} kept its backend across the health update`);
    }
    t.deepEqual(new Set(moved.values()), new Set([`${b0}:8080`, `${b2}:8080`]));

    await startBackends(topo, listenersFor([b1], [8080]));
    let up = await healthRound(topo, h);
    for (let i = 0; i < 5 && up.action !== 'incremental'; i++) up = await healthRound(topo, h);
    t.is(up.action, 'incremental');
    t.deepEqual(await where(), moved, 'the moved clients keep their new backends when the old one returns');

    // A config change makes nftlb health reload the whole table: emptied in place, the entries stay.
    h.write(
      `${healthConfig(
        topo,
        b.map((a) => `{ address: ${a}, port: 8080 }`),
        '    persistence: {}',
      )}
  - name: other
    vip: ${topo.vip4}
    port: 81
    backends:
      - { address: ${b0}, port: 8080 }
`,
    );
    const full = await healthRound(topo, h);
    t.is(full.action, 'full');
    t.is(full.why, 'the config changed');
    t.is((await liveEntries(topo, 'persist4', 'hc')).length, 20);
    t.deepEqual(await where(), moved, 'a full reload by nftlb health keeps the entries');
  });
});
