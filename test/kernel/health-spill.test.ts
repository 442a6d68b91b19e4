// limit-overflow spill with real connections: nftlb health counts each backend's connections from conntrack and takes
// a backend at its max-connections out of selection, so new connections go to the others and all of them succeed;
// it comes back once it is down to 3/4 of its limit. Through --watch (conntrack events) and --once (one listing).
import { healthEnv, healthRound, landed, startWatch, statusOf, waitFor, web } from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { sleep } from './support/child.js';
import { openLongLived, type LongLived } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

// b0 takes at most 2 connections and spills; b1 has no limit. No health checks: counting alone drives the table.
const spillConfig = (topo: Topology, b0: string, b1: string): string =>
  [
    'table: hc',
    'services:',
    '  - name: web',
    `    vip: ${topo.vip4}`,
    '    port: 80',
    '    limit-overflow: spill',
    '    backends:',
    `      - { address: ${b0}, port: 8080, max-connections: 2 }`,
    `      - { address: ${b1}, port: 8080 }`,
  ].join('\n');

const re = (s: string): string => s.replace(/[.[\]]/g, (c) => `\\${c}`);

// Opens long-lived connections to the VIP until `backend` holds `n` of them (round robin alternates, so at most 2n+1).
async function fill(topo: Topology, backend: string, n: number): Promise<{ on: LongLived[]; other: LongLived[] }> {
  const on: LongLived[] = [];
  const other: LongLived[] = [];
  for (let i = 0; i < 2 * n + 1 && on.length < n; i++) {
    const c = await openLongLived(topo, { target: topo.vip4, port: 80 });
    topo.defer(() => c.close());
    (c.backend === backend ? on : other).push(c);
  }
  if (on.length < n) throw new Error(`only ${on.length} of ${n} connections reached ${backend}`);
  return { on, other };
}

kernelTest(
  'spill, --watch: a backend at max-connections takes no new connections, every new one succeeds elsewhere; it returns at 3/4',
  async (t) => {
    await withTopology({}, async (topo) => {
      const [b0, b1] = topo.backendV4 as [string, string];
      await startBackends(topo, listenersFor([b0, b1], [8080]));
      const h = healthEnv(spillConfig(topo, b0, b1));
      const w = startWatch(topo, h);
      await waitFor(w.lines, /reloaded table \(no table loaded/, 60000);

      const { on } = await fill(topo, `${b0}:8080`, 2);
      const filledAt = Date.now();
      await waitFor(w.lines, new RegExp(`web ${re(b0)}:8080: full \\(2/2 connections\\)`), 30000);
      await waitFor(w.lines, /updated web/, 30000);
      t.log(`2nd connection on ${b0} -> table updated after ${Date.now() - filledAt} ms`);

      t.deepEqual(
        landed(await web(topo, 20)),
        { backends: [`${b1}:8080`], errors: 0 },
        'new ones spill to b1, none fail',
      );
      for (const c of on) t.is(await c.ping(), c.backend, 'the full backend keeps its connections');
      const st = await statusOf(topo, h);
      t.like(st.get(`${b0}:8080`), { active: false, full: true } as never);
      t.like(st.get(`${b1}:8080`), { active: true, full: false } as never);

      // One closed: 1 <= 3/4 of 2, so b0 takes connections again.
      await on[0]!.close();
      await waitFor(w.lines, new RegExp(`web ${re(b0)}:8080: has room \\(1/2 connections\\)`), 30000);
      await waitFor(w.lines, /updated web/, 30000);
      // Two sequential connections: round robin sends one to each.
      t.deepEqual(landed(await web(topo, 2)), { backends: [`${b0}:8080`, `${b1}:8080`], errors: 0 });
      t.is(await w.stop(), 0, 'exits 0 on SIGTERM');
    });
  },
);

kernelTest('spill, --once: one conntrack listing marks a backend full and the next run gives it back', async (t) => {
  await withTopology({}, async (topo) => {
    const [b0, b1] = topo.backendV4 as [string, string];
    await startBackends(topo, listenersFor([b0, b1], [8080]));
    const h = healthEnv(spillConfig(topo, b0, b1));
    t.is((await healthRound(topo, h)).action, 'full');
    const { on } = await fill(topo, `${b0}:8080`, 2);
    const r = (await healthRound(topo, h)) as Awaited<ReturnType<typeof healthRound>> & { spill: unknown };
    t.is(r.action, 'incremental');
    t.deepEqual(r.spill, [{ key: `web/${b0}:8080`, full: true, count: 2, max: 2 }]);
    t.deepEqual(landed(await web(topo, 10)), { backends: [`${b1}:8080`], errors: 0 });
    await on[0]!.close();
    await on[1]!.close();
    // Closed connections stop counting once conntrack sees TIME_WAIT; bounded wait for that.
    let back: typeof r | undefined;
    for (let i = 0; i < 100 && back?.action !== 'incremental'; i++) {
      await sleep(100);
      back = (await healthRound(topo, h)) as typeof r;
    }
    // 0, or 1 when the other close has not reached TIME_WAIT yet: both are at or below 3/4 of 2.
    t.like(back?.spill, [{ key: `web/${b0}:8080`, full: false, max: 2 }] as never);
    t.true(((back?.spill as { count: number }[] | undefined)?.[0]?.count ?? 9) <= 1);
    t.deepEqual(landed(await web(topo, 2)), { backends: [`${b0}:8080`, `${b1}:8080`], errors: 0 });
  });
});
