// The guard chain against the real kernel: a table replaced behind nftlb health's back (here `nftlb render | nft -f -`,
// what `nftlb apply` also does) has lost the guard chain, so the next health round's script is refused as a whole and the
// round reloads the table in full with the health verdicts; incremental updates then resume on the new guard.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { healthRound, landed, nftlbIn, web, webBackends } from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';

kernelTest(
  'health: a table replaced by a full load is reloaded in full by the next round, with the verdicts',
  async (t) => {
    await withTopology({}, async (topo) => {
      const {
        b: [b0, b1, b2],
        servers,
        h,
      } = await webBackends(topo);
      const token = (): string =>
        (
          JSON.parse(readFileSync(join(h.env['NFTLB_STATE_DIR']!, 'health-hc.json'), 'utf8')) as {
            live: { token: string };
          }
        ).live.token;
      const guards = async (): Promise<string[]> =>
        [
          ...(await topo.exec(topo.lb, ['nft', 'list', 'table', 'inet', 'hc'])).stdout.matchAll(
            /chain (health_\w+) \{/g,
          ),
        ].map((m) => m[1]!);

      t.is((await healthRound(topo, h)).action, 'full');
      const first = token();
      t.regex(first, /^health_[0-9a-f]{8}$/);
      t.deepEqual(await guards(), [first], 'the full load added its guard chain');
      t.is((await healthRound(topo, h)).action, 'none', 'all up: only the guard is checked');

      await servers.stopOne(b1);
      await healthRound(topo, h);
      const down = await healthRound(topo, h);
      t.is(down.action, 'incremental');
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b2}:8080`], errors: 0 });

      // Someone loads the config's table without health verdicts: the dead backend is back in, the guard is gone.
      const rendered = (await nftlbIn(topo, h, ['render'])).stdout;
      const load = await topo.nft(rendered);
      t.is(load.exitCode, 0, load.stderr);
      t.deepEqual(await guards(), []);
      t.true(landed(await web(topo, 30)).errors > 0, 'the stopped backend takes connections again');

      const r = await healthRound(topo, h);
      t.deepEqual(r.transitions, [], 'no check changed');
      t.is(r.action, 'full');
      t.is(r.why, 'the table was replaced since the last health run');
      const second = token();
      t.not(second, first);
      t.deepEqual(await guards(), [second]);
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b2}:8080`], errors: 0 });

      // Incremental updates work again on the new guard.
      await startBackends(topo, listenersFor([b1], [8080]));
      await healthRound(topo, h);
      const up = await healthRound(topo, h);
      t.deepEqual(
        up.transitions.map((x) => `${x.endpoint} ${x.from}->${x.to}`),
        [`${b1}:8080 down->up`],
      );
      t.is(up.action, 'incremental');
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`, `${b2}:8080`], errors: 0 });

      // A deleted table: the same.
      await topo.exec(topo.lb, ['nft', 'delete', 'table', 'inet', 'hc']);
      const again = await healthRound(topo, h);
      t.like(again, { action: 'full', why: 'the table was replaced since the last health run' });
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`, `${b2}:8080`], errors: 0 });
    });
  },
);
