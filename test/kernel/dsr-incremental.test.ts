// nftlb health's incremental updates of the DSR netdev table against the real kernel and nft: every kind of membership
// change (a Maglev slot map, weighted slot ranges, a pool that empties to its on-empty verdict and refills, IPv6, a
// port range, two interfaces) leaves exactly the netdev table a full load of the new plan makes.
import type { ExecutionContext } from 'ava';
import { incrementalUpdate } from '../../src/nft/delta.js';
import { renderNftScript } from '../../src/nft/script.js';
import { backendKey, plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { modelOf } from '../support/model.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

const model = modelOf(`
table: hd
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    forwarding: dsr
    interface: lbb0
    scheduler: maglev
    hash: { table-size: 31 }
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4 }
  - name: games
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: udp
    port: "27000-27010"
    forwarding: dsr
    interface: lbc0
    scheduler: source-hash
    on-empty: drop
    health: { type: tcp, port: 8080 }
    backends:
      - { address: 198.51.100.2, weight: 3 }
      - { address: 198.51.100.3, weight: 1 }
      - { address: "2001:db8:2::2" }
  - name: nat
    vip: 203.0.113.1
    port: 81
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`);

// The plan with the given backends (service name, backend index) down and every other one up.
function planWith(down: readonly (readonly [string, number])[]): Plan {
  const health = new Map<string, 'up' | 'down'>();
  const all = plan(model);
  for (const s of all.services)
    s.backends.forEach((b, i) =>
      health.set(backendKey(s.name, b.endpoint), down.some(([n, j]) => n === s.name && j === i) ? 'down' : 'up'),
    );
  return plan(model, { health });
}

const GUARD = 'health_0badcafe';

// Both tables, without handles, counters or comments, elements in a fixed order; objects by kind and name, rules in
// their chain's order (a stable sort keeps them so).
async function listing(topo: Topology): Promise<string[]> {
  const out: { key: string; text: string }[] = [];
  for (const [family, name] of [
    ['inet', 'hd'],
    ['netdev', 'hd_dsr'],
  ] as const) {
    const r = await topo.exec(topo.lb, ['nft', '-j', '-s', 'list', 'table', family, name]);
    for (const o of (JSON.parse(r.stdout) as { nftables: Record<string, Record<string, unknown>>[] }).nftables) {
      if (o['metainfo'] !== undefined) continue;
      const [kind, body] = Object.entries(o)[0]!;
      const rest = { ...(body as Record<string, unknown>) };
      const elem = rest['elem'];
      for (const k of ['handle', 'comment', 'elem']) delete rest[k];
      const elems = Array.isArray(elem) ? elem.map((e) => JSON.stringify(e)).sort() : null;
      const key =
        kind === 'rule'
          ? `${family} chain ${String(rest['chain'])} ~`
          : `${family} ${kind === 'map' ? 'set' : kind} ${String(rest['name'])}`;
      out.push({ key, text: `${kind} ${JSON.stringify(rest)} ${JSON.stringify(elems)}` });
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.text);
}

async function loadFull(topo: Topology, p: Plan): Promise<void> {
  await topo.nft(`${renderNftScript(p).text}add chain inet hd ${GUARD}\n`);
}

async function step(t: ExecutionContext, topo: Topology, from: Plan, to: Plan, what: string): Promise<void> {
  const u = incrementalUpdate(from, to);
  t.truthy(u.script, `${what}: a change`);
  await loadFull(topo, from);
  await topo.nft(`flush chain inet hd ${GUARD}\n${u.script ?? ''}`);
  const incremental = await listing(topo);
  await loadFull(topo, to);
  t.deepEqual(incremental, await listing(topo), `${what}: incremental == full load`);
}

kernelTest('DSR: each kind of incremental update leaves the netdev table a full load makes', async (t) => {
  await withTopology({ backends4: 1, backends6: 1, clients: 1 }, async (topo) => {
    const up = planWith([]);
    const cases: [string, (readonly [string, number])[]][] = [
      ['maglev backend down (slot elements)', [['web', 1]]],
      [
        'maglev two down (constant)',
        [
          ['web', 0],
          ['web', 2],
        ],
      ],
      ['weighted source-hash, one down (ranges to direct)', [['games', 0]]],
      ['IPv6 pool empties (drop)', [['games', 2]]],
      [
        'NAT and DSR together',
        [
          ['nat', 0],
          ['web', 2],
        ],
      ],
    ];
    for (const [what, down] of cases) {
      const changed = planWith(down);
      await step(t, topo, up, changed, `${what}, down`);
      await step(t, topo, changed, up, `${what}, back up`);
    }
  });
});
