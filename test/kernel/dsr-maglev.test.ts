// DSR with Maglev: taking one of 4 backends out (its state, or its health check failing) moves about a quarter of the
// clients, exactly those of that backend; removing it from the config moves its clients and a few others (plain
// Maglev's table of the 3 that are left). Without conntrack a moved client's connections break, so this is what keeps
// the others' connections alive.
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import { probe } from './support/client.js';
import { setupDsrBackends, startDsrServers, withDsrTopology, type DsrTopology } from './support/dsr-topology.js';
import { healthEnv, healthRound } from './support/health.js';
import { kernelTest } from './support/kernel-test.js';
import { nftlb, workDir, writeConfig } from './support/ops.js';

const config = (topo: DsrTopology, o: { down?: number; drop?: number; health?: boolean } = {}): string => `
services:
  - name: cache
    vip: ${topo.vip4}
    port: 80
    forwarding: dsr
    interface: eth0
    scheduler: maglev
    hash: { fields: [saddr], seed: 0xcafe }
${o.health === true ? '    health: { type: tcp, interval: 1, timeout: 0.5, rise: 1, fall: 1 }\n' : ''}    backends:
${topo.backends
  .map((b, i) => (i === o.drop ? '' : `      - { address: ${b.v4}${i === o.down ? ', state: down' : ''} }\n`))
  .join('')}`;

// Where each client lands (one TCP connection per client, every one answered).
async function where(t: ExecutionContext, topo: DsrTopology): Promise<Map<string, string>> {
  const r = await probe(topo, {
    target: topo.vip4,
    port: 80,
    proto: 'tcp',
    count: topo.clientV4.length,
    sources: topo.clientV4,
  });
  const out = new Map<string, string>();
  for (const x of r) {
    t.truthy(x.backend, `${x.source}: ${x.error}`);
    out.set(x.source!, x.backend!);
  }
  return out;
}

// Clients that moved, and of those the ones whose backend is still there.
function moved(before: Map<string, string>, after: Map<string, string>, gone: string): { all: number; others: number } {
  let all = 0;
  let others = 0;
  for (const [c, b] of before) {
    if (after.get(c) === b) continue;
    all++;
    if (b !== gone) others++;
  }
  return { all, others };
}

kernelTest('DSR maglev: one of 4 backends out moves about 1/4 of 200 clients, all of them its own', async (t) => {
  await withDsrTopology({ backends: 4, clients: 200 }, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: dir };
    const file = writeConfig(dir, 'a.yaml', config(topo));
    await setupDsrBackends(topo, file);
    await startDsrServers(topo, { tcp: [80], vips6: [] });
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.ok);
    const before = await where(t, topo);
    t.deepEqual(await where(t, topo), before, 'sticky: the same clients land on the same backends again');
    const gone = `${topo.backends[3]!.v4}:80`;
    const onGone = [...before.values()].filter((b) => b === gone).length;

    // state: down
    const down = writeConfig(dir, 'down.yaml', config(topo, { down: 3 }));
    t.is((await nftlb(topo, ['apply', '-c', down], env)).exitCode, EXIT.ok);
    const after = await where(t, topo);
    t.false([...after.values()].includes(gone));
    const m = moved(before, after, gone);
    t.log(`state down: ${m.all}/200 clients moved (${onGone} were on it), ${m.others} of the others`);
    t.is(m.all, onGone, 'exactly the clients of the backend that went');
    t.is(m.others, 0);
    t.true(m.all >= 20 && m.all <= 80, `about 1/4 of 200, got ${m.all}`);

    // Back up: every client returns to where it was.
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.ok);
    t.deepEqual(await where(t, topo), before);

    // Removed from the config: Maglev over the 3 that are left.
    const drop = writeConfig(dir, 'drop.yaml', config(topo, { drop: 3 }));
    t.is((await nftlb(topo, ['apply', '-c', drop], env)).exitCode, EXIT.ok);
    const dropped = moved(before, await where(t, topo), gone);
    t.log(`removed from the config: ${dropped.all}/200 moved, ${dropped.others} of the others`);
    t.true(dropped.all >= onGone && dropped.others <= 20, `a few others at most, got ${dropped.others}`);
  });
});

kernelTest(
  'DSR maglev with health checks: a backend failing its check moves only its clients (nftlb health)',
  async (t) => {
    await withDsrTopology({ backends: 4, clients: 200 }, async (topo) => {
      const h = healthEnv(config(topo, { health: true }));
      await setupDsrBackends(topo, h.config);
      // The check connects to the backend's own address: the server listens there too.
      const stops = await startDsrServers(topo, { tcp: [80], vips6: [], own: true });
      const first = await healthRound(topo, h);
      t.is(first.action, 'full');
      const before = await where(t, topo);
      const gone = `${topo.backends[1]!.v4}:80`;
      await stops.get(topo.backends[1]!.ns)!();
      const r = await healthRound(topo, h);
      t.is(r.action, 'incremental', r.why);
      t.deepEqual(
        r.transitions.map((x) => [x.endpoint, x.to]),
        [[gone, 'down']],
      );
      const after = await where(t, topo);
      const m = moved(before, after, gone);
      t.log(`health down: ${m.all}/200 moved, ${m.others} of the others`);
      t.true(m.all > 0);
      t.is(m.others, 0, 'only the clients of the backend that failed its check');
    });
  },
);
