// nftlb backend drain|undrain|down|up against the real kernel, with real connections through the lb namespace: a
// drained backend gets no new connections while an established one keeps working; undrain brings it back; the
// override survives an nftlb apply and a health --once round; down with on-down: reset cuts the established connection;
// a running health --watch takes an override made meanwhile.
import { healthEnv, healthRound, landed, startWatch, statusOf, waitFor, web, webBackends } from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { openLongLived } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { nftlb } from './support/ops.js';
import { withTopology, type Topology } from './support/topology.js';
import type { HealthEnv } from './support/health.js';

// Runs `nftlb backend ...` (or another command) with the test's state dir and lock; returns the exit code, its JSON
// (when --json gave one) and stderr, and how long the command took from start to exit.
async function run(
  topo: Topology,
  h: HealthEnv,
  args: string[],
): Promise<{ code: number; json: Record<string, unknown> | null; stderr: string; ms: number }> {
  const started = Date.now();
  const r = await nftlb(topo, [...args, '-c', h.config], h.env);
  const ms = Date.now() - started;
  const json = args.includes('--json') && r.stdout !== '' ? (JSON.parse(r.stdout) as Record<string, unknown>) : null;
  return { code: r.exitCode, json, stderr: r.stderr, ms };
}

kernelTest(
  'backend drain: no new connections while an established one keeps working; survives apply and health; undrain brings it back',
  async (t) => {
    await withTopology({}, async (topo) => {
      const { b, h } = await webBackends(topo);
      const all = b.map((a) => `${a}:8080`).sort();
      t.is((await healthRound(topo, h)).action, 'full');
      const held = await openLongLived(topo, { target: topo.vip4, port: 80, source: topo.clientV4[0] });
      const drained = held.backend;
      const others = all.filter((x) => x !== drained);

      const d = await run(topo, h, ['backend', 'drain', 'web', drained, '--json']);
      t.is(d.code, 0, d.stderr);
      t.like(d.json, { result: 'changed', override: 'drain', state: 'drain', update: { action: 'incremental' } });
      t.log(`nftlb backend drain (incremental): ${d.ms} ms from start to exit`);
      t.deepEqual(landed(await web(topo, 40)), { backends: others, errors: 0 }, 'no new connection to it');
      t.is(await held.ping(), drained, 'the established connection keeps working');
      t.like((await statusOf(topo, h)).get(drained), { state: 'drain', override: 'drain', active: false });
      const st = JSON.parse((await nftlb(topo, ['status', '--json', '-c', h.config], h.env)).stdout) as {
        services: { backends: { endpoint: string; state: string; override: string | null }[] }[];
      };
      t.like(
        st.services[0]!.backends.find((x) => x.endpoint === drained),
        { state: 'drain', override: 'drain' },
      );

      // nftlb apply plans with the override: the table it loads keeps the backend out. (It loads: the live table's
      // fingerprint comment is that of health's last full load, which an incremental update does not rewrite.)
      const a = await run(topo, h, ['apply', '--json']);
      t.is(a.code, 0, a.stderr);
      t.like(a.json, { result: 'applied' });
      t.deepEqual(landed(await web(topo, 30)), { backends: others, errors: 0 }, 'after apply');
      t.is(
        (await run(topo, h, ['apply'])).code,
        9,
        'a second apply finds the table as the config and override want it',
      );
      // health --once: apply replaced the table (its guard chain is gone), so a full reload, with the override.
      const r1 = await healthRound(topo, h);
      t.like(r1, { action: 'full', why: 'the table was replaced since the last health run' });
      t.deepEqual(landed(await web(topo, 30)), { backends: others, errors: 0 }, `after health --once (${r1.why})`);
      t.is((await healthRound(topo, h)).action, 'none');
      t.deepEqual(landed(await web(topo, 30)), { backends: others, errors: 0 }, 'after a second round');
      t.is(await held.ping(), drained, 'still served after apply and health');

      const u = await run(topo, h, ['backend', 'undrain', 'web', drained, '--json']);
      t.is(u.code, 0, u.stderr);
      t.like(u.json, { result: 'changed', override: null, state: 'up', update: { action: 'incremental' } });
      t.deepEqual(landed(await web(topo, 30)), { backends: all, errors: 0 }, 'back in selection');
      t.is(await held.ping(), drained);
      await held.close();

      // An unknown backend: exit 15, the table as it was.
      const bad = await run(topo, h, ['backend', 'drain', 'web', '198.51.100.250']);
      t.is(bad.code, 15);
      t.regex(bad.stderr, /service web has no backend 198\.51\.100\.250/);
      t.deepEqual(landed(await web(topo, 30)), { backends: all, errors: 0 });
    });
  },
);

kernelTest(
  'backend down with on-down: reset cuts the established connection; health --watch takes overrides made while it runs',
  async (t) => {
    await withTopology({}, async (topo) => {
      const [b0, b1, b2] = topo.backendV4 as [string, string, string];
      const servers = await startBackends(topo, listenersFor([b0, b1, b2], [8080]));
      const h = healthEnv(
        [
          'table: hc',
          'services:',
          '  - name: web',
          `    vip: ${topo.vip4}`,
          '    port: 80',
          '    on-down: reset',
          '    health: { type: tcp, interval: 0.5, timeout: 0.2, rise: 1, fall: 2 }',
          '    backends:',
          ...[b0, b1, b2].map((a) => `      - { address: ${a}, port: 8080 }`),
        ].join('\n'),
      );
      const w = startWatch(topo, h);
      await waitFor(w.lines, /reloaded table \(no table loaded/, 60000);
      const held = await openLongLived(topo, { target: topo.vip4, port: 80, source: topo.clientV4[1] });
      const victim = held.backend;
      const others = [b0, b1, b2].map((a) => `${a}:8080`).filter((x) => x !== victim);
      const victimRe = victim.replace(/\./g, '\\.');

      const d = await run(topo, h, ['backend', 'down', 'web', victim, '--json']);
      t.is(d.code, 0, d.stderr);
      t.like(d.json, { override: 'down', state: 'down' });
      const update = d.json!['update'] as { action: string; reset: number[] };
      t.is(update.reset.length, 1, 'its connections were reset (on-down: reset)');
      t.log(`nftlb backend down (${update.action}): ${d.ms} ms`);
      await waitFor(w.lines, new RegExp(`web ${victimRe}: override down set \\(nftlb backend\\)`), 30000);
      await t.throwsAsync(held.ping(), undefined, 'the established connection is cut');
      await held.close();
      t.deepEqual(landed(await web(topo, 30)), { backends: others.sort(), errors: 0 });

      // The watch keeps the override through its own updates: another backend fails its checks, the watch takes it
      // out, and the overridden one stays out too.
      const [gone, left] = others as [string, string];
      await servers.stopOne(gone);
      await waitFor(w.lines, new RegExp(`web ${gone.replace(/\./g, '\\.')}: up -> down`), 30000);
      await waitFor(w.lines, /updated web/, 30000);
      t.deepEqual(landed(await web(topo, 30)), { backends: [left], errors: 0 });

      const u = await run(topo, h, ['backend', 'up', 'web', victim]);
      t.is(u.code, 0, u.stderr);
      await waitFor(w.lines, new RegExp(`web ${victimRe}: override down removed \\(nftlb backend\\)`), 30000);
      t.deepEqual(landed(await web(topo, 30)), { backends: [left, victim].sort(), errors: 0 });
      t.is(await w.stop(), 0);
    });
  },
);
