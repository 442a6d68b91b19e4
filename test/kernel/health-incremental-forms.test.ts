// The incremental scripts of nftlb health against the real kernel and the real nft: every kind of membership change
// (chain only, slot elements, interval slot elements, a pool that empties into the closed maps and refills, IPv4 and
// IPv6, single ports and port ranges) leaves exactly the table a full load of the new plan makes, and a script without
// deletions makes nft fetch nothing from the kernel but the table list and the generation, and the sets when it flushes
// a slot bucket (nft 1.0.6 fetches every chain of the ruleset for `add rule`, `add element` and any `delete`, which is
// what made an update grow with the number of services).
import type { ExecutionContext } from 'ava';
import { incrementalUpdate } from '../../src/nft/delta.js';
import { renderNftScript } from '../../src/nft/script.js';
import { backendKey, plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { modelOf } from '../support/model.js';
import { kernelTest } from './support/kernel-test.js';
import { tableContent } from './support/listing.js';
import { withTopology, type Topology } from './support/topology.js';

const model = modelOf(`
table: hforms
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    rate-limit: { rate: 1000 }
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: ftp
    vip: 203.0.113.1
    port: [21, "30000-30100"]
    on-empty: drop
    health: { type: tcp, port: 8080 }
    backends:
      - { address: 198.51.100.2 }
  - name: weighted
    vip: 203.0.113.1
    port: 81
    scheduler: random
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2, port: 8080, weight: 5 }
      - { address: 198.51.100.3, port: 8080, weight: 3 }
      - { address: 198.51.100.4, port: 8080, weight: 2 }
  - name: six
    vip: 2001:db8:1::1
    port: [443, "8000-8001"]
    health: { type: tcp, port: 8443 }
    backends:
      - { address: "2001:db8:2::2" }
`);

// The plan with the given backends (service name, backend index) down and every other one up.
function planWith(down: readonly (readonly [string, number])[]): Plan {
  const health = new Map<string, 'up' | 'down'>();
  for (const s of model.services) {
    const p = plan(model).services.find((x) => x.name === s.name)!;
    p.backends.forEach((b, i) =>
      health.set(backendKey(s.name, b.endpoint), down.some(([n, j]) => n === s.name && j === i) ? 'down' : 'up'),
    );
  }
  return plan(model, { health });
}

const GUARD = 'health_0badcafe';

// nft's request types (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GET*), as `--debug=mnl` prints them.
const GET: Record<number, string> = {
  2561: 'tables',
  2564: 'chains',
  2567: 'rules',
  2570: 'sets',
  2573: 'set elements',
  2576: 'generation',
  2579: 'objects',
  2583: 'flowtables',
};

const listing = (topo: Topology): Promise<unknown[]> => tableContent(topo, 'hforms');

async function loadFull(topo: Topology, p: Plan): Promise<void> {
  await topo.nft(`${renderNftScript(p).text}add chain inet hforms ${GUARD}\n`);
}

// Loads `from` in full, applies the incremental script to `to` as sync() sends it, and compares with a full load of
// `to`. Returns the script and what nft fetched for it.
async function step(t: ExecutionContext, topo: Topology, from: Plan, to: Plan, what: string): Promise<void> {
  const u = incrementalUpdate(from, to);
  if (u.script === null) return t.fail(`${what}: no change`);
  await loadFull(topo, from);
  const r = await topo.exec(topo.lb, ['nft', '--debug=mnl', '-f', '-'], {
    input: `flush chain inet hforms ${GUARD}\n${u.script}`,
    reject: false,
  });
  t.is(r.exitCode, 0, `${what}: nft refused\n${u.script}\n${r.stderr.split('\n').slice(-6).join('\n')}`);
  const fetched = new Set<string>();
  for (const m of r.stdout.concat(r.stderr).matchAll(/^\| (\d{5}) \| /gm)) {
    const kind = GET[Number(m[1])];
    if (kind !== undefined) fetched.add(kind);
  }
  const incremental = await listing(topo);
  await loadFull(topo, to);
  t.deepEqual(incremental, await listing(topo), `${what}: the table differs from a full load\n${u.script}`);
  // A slot bucket emptied by `flush map` (instead of deleting its elements) makes nft fetch the sets, never the chains.
  if (!/^delete /m.test(u.script))
    t.deepEqual(
      [...fetched].sort(),
      /^flush map /m.test(u.script) ? ['generation', 'sets', 'tables'] : ['generation', 'tables'],
      `${what}: nft fetched more than the table list (and the sets for a flush) for a script without deletions\n${u.script}`,
    );
  t.log(`${what}: ${u.script.split('\n').length - 1} lines, nft fetched ${[...fetched].sort().join(', ')}`);
}

kernelTest(
  'health: each kind of incremental update leaves the table a full load makes; without deletions nft fetches no chains',
  async (t) => {
    await withTopology({}, async (topo) => {
      const up = planWith([]);
      const cases: [string, Plan][] = [
        ['first backend down (chain only)', planWith([['web', 0]])],
        ['middle backend down (slot elements)', planWith([['web', 1]])],
        ['weighted backend down (interval slot elements)', planWith([['weighted', 1]])],
        [
          'single-backend pool empties (single port and range: its chain marks the on-empty verdict)',
          planWith([['ftp', 0]]),
        ],
        ['IPv6 pool empties', planWith([['six', 0]])],
        [
          'several services at once',
          planWith([
            ['web', 1],
            ['ftp', 0],
            ['weighted', 0],
            ['six', 0],
          ]),
        ],
      ];
      for (const [what, p] of cases) {
        await step(t, topo, up, p, what);
        await step(t, topo, p, up, `${what}, and back`);
      }
      // From one degraded state to another: slot elements replaced, not just added or removed.
      await step(t, topo, planWith([['web', 1]]), planWith([['web', 2]]), 'another middle backend down instead');
      // The slot bucket is emptied and refilled: what the other pools of the bucket select stays.
      const both: [string, number][] = [
        ['web', 1],
        ['weighted', 1],
      ];
      await step(t, topo, planWith(both), planWith([['weighted', 1]]), 'middle backend back, another pool on slots');
      await step(
        t,
        topo,
        planWith(both),
        planWith([
          ['web', 1],
          ['weighted', 2],
        ]),
        'weighted runs replaced, web stays',
      );
      await step(
        t,
        topo,
        planWith(both),
        planWith([
          ['web', 2],
          ['weighted', 1],
        ]),
        'web slots replaced, weighted stays',
      );
    });
  },
);

kernelTest(
  'health: nft refuses an incremental script naming the guard when the table was replaced or deleted, and changes nothing',
  async (t) => {
    await withTopology({}, async (topo) => {
      const up = planWith([]);
      for (const [what, p] of [
        ['chain only', planWith([['web', 0]])],
        ['chain and slot elements', planWith([['web', 1]])],
      ] as const) {
        const script = `flush chain inet hforms ${GUARD}\n${incrementalUpdate(up, p).script ?? ''}`;
        // Replaced: the same table loaded without the guard chain (as `nftlb apply` does).
        await topo.nft(renderNftScript(up).text);
        const before = await listing(topo);
        const replaced = await topo.exec(topo.lb, ['nft', '-f', '-'], { input: script, reject: false });
        t.not(replaced.exitCode, 0, what);
        t.true(replaced.stderr.includes(GUARD), `${what}, table replaced: ${replaced.stderr}`);
        t.deepEqual(await listing(topo), before, `${what}: the replaced table is untouched`);
        // Deleted: no table at all, and none made by the refused script.
        await topo.exec(topo.lb, ['nft', 'delete', 'table', 'inet', 'hforms']);
        const gone = await topo.exec(topo.lb, ['nft', '-f', '-'], { input: script, reject: false });
        t.not(gone.exitCode, 0, what);
        t.true(gone.stderr.includes(GUARD), `${what}, table deleted: ${gone.stderr}`);
        t.is((await topo.exec(topo.lb, ['nft', 'list', 'tables'])).stdout, '', `${what}: no table made`);
      }
    });
  },
);
