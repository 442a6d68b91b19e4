// health --watch's persistent `nft -i` session (src/system/nft-session.ts) against the real nft and kernel: every kind
// of incremental update sent through one session leaves exactly the table a full load of the new plan makes (with full
// loads by another nft in between, which move the generation under the session's cache); a script nft refuses comes
// back as a failure naming the guard when the table was replaced or deleted, and the session answers the next one; a
// script too long for one line, and a session whose nft died, are handled (nft -f, a new session).
import { incrementalUpdate } from '../../src/nft/delta.js';
import { renderNftScript } from '../../src/nft/script.js';
import { backendKey, plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import { systemExecutor, type Executor, type Interactive } from '../../src/system/executor.js';
import { resolveHost } from '../../src/system/host.js';
import { nftSession } from '../../src/system/nft-session.js';
import { modelOf } from '../support/model.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

const model = modelOf(`
table: hsess
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: weighted
    vip: 203.0.113.1
    port: [81, "9000-9010"]
    scheduler: random
    health: { type: tcp, port: 8080 }
    backends:
      - { address: 198.51.100.2, weight: 5 }
      - { address: 198.51.100.3, weight: 3 }
  - name: six
    vip: 2001:db8:1::1
    port: 443
    health: { type: tcp, port: 8443 }
    backends:
      - { address: "2001:db8:2::2" }
`);

function planWith(down: readonly (readonly [string, number])[]): Plan {
  const health = new Map<string, 'up' | 'down'>();
  for (const s of plan(model).services)
    s.backends.forEach((b, i) =>
      health.set(backendKey(s.name, b.endpoint), down.some(([n, j]) => n === s.name && j === i) ? 'down' : 'up'),
    );
  return plan(model, { health });
}

const GUARD = 'health_5e55105e';

// The table as nft lists it (-s: no counters), without comments, its objects in name order (nft lists them in the
// order they were made, which an incremental update changes).
async function listing(topo: Topology): Promise<string> {
  const r = await topo.exec(topo.lb, ['nft', '-s', 'list', 'table', 'inet', 'hsess']);
  const text = r.stdout
    .split('\n')
    .filter((l) => !/^\s*comment /.test(l) && l.trim() !== '' && !/^(table .*\{|\})$/.test(l))
    .join('\n');
  return text
    .split(/\n(?=\t(?:chain|map|set) )/)
    .sort()
    .join('\n');
}

const loadFull = (topo: Topology, p: Plan): Promise<unknown> =>
  topo.nft(`${renderNftScript(p).text}add chain inet hsess ${GUARD}\n`);

// An executor that runs nft (and its session) in the balancer's namespace; `sessions` gets each program it started.
function inLb(topo: Topology, sessions: Interactive[] = []): Executor {
  const base = systemExecutor();
  return {
    run: (cmd, args, input) => base.run('ip', ['netns', 'exec', topo.lb, cmd, ...args], input),
    interact: async (cmd, args, onLine) => {
      const p = await base.interact!('ip', ['netns', 'exec', topo.lb, cmd, ...args], onLine);
      sessions.push(p);
      return p;
    },
  };
}

kernelTest(
  'health session: each incremental update through one nft -i session leaves the table a full load makes',
  async (t) => {
    await withTopology({}, async (topo) => {
      const session = nftSession(resolveHost(inLb(topo), {}))!;
      try {
        const up = planWith([]);
        const cases: [string, Plan][] = [
          ['first backend down', planWith([['web', 0]])],
          ['middle backend down (slot elements)', planWith([['web', 1]])],
          ['weighted backend down (interval slots)', planWith([['weighted', 1]])],
          ['IPv6 pool empties', planWith([['six', 0]])],
        ];
        for (const [what, p] of cases)
          for (const [from, to, how] of [
            [up, p, what],
            [p, up, `${what}, and back`],
          ] as const) {
            await loadFull(topo, from);
            const u = incrementalUpdate(from, to);
            const r = await session.run(`flush chain inet hsess ${GUARD}\n${u.script ?? ''}`);
            t.is(r?.exitCode, 0, `${how}: ${r?.stderr ?? 'no session'}`);
            const incremental = await listing(topo);
            await loadFull(topo, to);
            t.is(incremental, await listing(topo), `${how}: the table differs from a full load`);
          }
        // Two updates in a row in the session, no full load between: the second sees the first's table.
        await loadFull(topo, up);
        const a = planWith([['web', 1]]);
        const b = planWith([['web', 2]]);
        for (const [from, to] of [
          [up, a],
          [a, b],
          [b, up],
        ] as const) {
          const r = await session.run(`flush chain inet hsess ${GUARD}\n${incrementalUpdate(from, to).script ?? ''}`);
          t.is(r?.exitCode, 0, r?.stderr);
        }
        const chained = await listing(topo);
        await loadFull(topo, up);
        t.is(chained, await listing(topo));
      } finally {
        await session.close();
      }
    });
  },
);

kernelTest(
  'health session: a refused update names the guard and changes nothing; the session goes on; limits',
  async (t) => {
    await withTopology({}, async (topo) => {
      const started: Interactive[] = [];
      const session = nftSession(resolveHost(inLb(topo, started), {}))!;
      try {
        const up = planWith([]);
        const script = `flush chain inet hsess ${GUARD}\n${incrementalUpdate(up, planWith([['web', 1]])).script ?? ''}`;
        // Replaced: the table loaded without the guard chain (as `nftlb apply` does).
        await topo.nft(renderNftScript(up).text);
        const before = await listing(topo);
        const replaced = await session.run(script);
        t.is(replaced?.exitCode, 1);
        t.true(replaced?.stderr.includes(GUARD), replaced?.stderr);
        t.is(await listing(topo), before, 'the replaced table is untouched');
        // Deleted.
        await topo.exec(topo.lb, ['nft', 'delete', 'table', 'inet', 'hsess']);
        const gone = await session.run(script);
        t.is(gone?.exitCode, 1);
        t.true(gone?.stderr.includes(GUARD), gone?.stderr);
        // The same session answers the next transaction.
        await loadFull(topo, up);
        const ok = await session.run(script);
        t.is(ok?.exitCode, 0, ok?.stderr);
        // Too long for one line: not sent (the caller uses nft -f).
        t.is(await session.run(`flush chain inet hsess ${GUARD}\n${'add table inet hsess\n'.repeat(3000)}`), null);
        // The session's nft gone (stopped by its own handle, not through the session): the next transaction starts a
        // new one and is answered.
        t.is(started.length, 1);
        await started[0]!.end();
        const after = await session.run(`flush chain inet hsess ${GUARD}`);
        t.is(after?.exitCode, 0, after?.stderr);
        t.is(started.length, 2);
      } finally {
        await session.close();
      }
    });
  },
);
