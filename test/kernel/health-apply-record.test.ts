// nftlb health's own transactions carry apply's no-op record (src/ops/noop.ts, noopRecordKeeper) against the real
// kernel: after health reloads or updates the table that apply loaded, an apply of the unchanged config is a no-op
// (exit 9: nothing loaded, health's guard chain stays, so health's next change is an update again), the live table is
// the one a full load of the same config and verdicts makes, and status says it matches; a transaction by anyone else
// in between, or another config, makes apply load as before. The same for health --watch and for `nftlb backend`.
import { EXIT } from '../../src/cli/exit-codes.js';
import { MAIN } from './support/ops.js';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { noopRecordFile } from '../../src/ops/noop.js';
import { sleep } from './support/child.js';
import {
  healthRound,
  landed,
  nftlbIn,
  startWatch,
  waitFor,
  web,
  webBackends,
  type HealthEnv,
} from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { tableContent } from './support/listing.js';
import { FINGERPRINT_CHAIN } from '../../src/nft/script.js';
import { isGuardChain } from '../../src/nft/names.js';
import type { ExecResult, Topology } from './support/topology.js';
import { withTopology } from './support/topology.js';

// `nftlb apply` (any exit code).
async function apply(topo: Topology, h: HealthEnv, extra: string[] = []): Promise<ExecResult> {
  const vars = Object.entries(h.env).map(([k, v]) => `${k}=${v}`);
  return topo.exec(topo.lb, ['env', ...vars, process.execPath, MAIN, 'apply', '-c', h.config, ...extra], {
    reject: false,
    timeoutMs: 60000,
  });
}

// What the table holds but what only says who loaded it: health's guard chain and the fingerprint chain (the table
// comment is left out by tableContent).
const content = (topo: Topology): Promise<unknown[]> =>
  tableContent(topo, 'hc', (chain) => isGuardChain(chain) || chain === FINGERPRINT_CHAIN);

kernelTest(
  'health: an apply after health changed the table is a no-op that keeps the guard; others still make it load',
  async (t) => {
    await withTopology({}, async (topo) => {
      const {
        b: [b0, b1, b2],
        servers,
        h,
      } = await webBackends(topo);
      const list = async (): Promise<string> =>
        (await topo.exec(topo.lb, ['nft', 'list', 'table', 'inet', 'hc'])).stdout;
      const guards = async (): Promise<string[]> =>
        [...(await list()).matchAll(/chain (health_\w+) \{/g)].map((m) => m[1]!);

      const first = await apply(topo, h);
      t.is(first.exitCode, EXIT.ok, first.stderr);
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);

      // health's first round loads the table in full (apply's load has no guard of its own): the record follows.
      await servers.stopOne(b1);
      t.is((await healthRound(topo, h)).action, 'full');
      await healthRound(topo, h);
      const [guard] = await guards();
      t.truthy(guard);
      const afterFull = await list();
      const noop1 = await apply(topo, h);
      t.is(noop1.exitCode, EXIT.unchanged, `after health's full reload: ${noop1.stderr}`);
      t.is(await list(), afterFull, 'the no-op touched nothing');
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b2}:8080`], errors: 0 });

      // The guard is still there: health's next change is an update, and the record follows it too.
      await startBackends(topo, listenersFor([b1], [8080]));
      await healthRound(topo, h);
      const up = await healthRound(topo, h);
      t.is(up.action, 'incremental', up.why);
      t.deepEqual(await guards(), [guard]);
      const afterUpdate = await list();
      const kept = await content(topo);
      const noop2 = await apply(topo, h);
      t.is(noop2.exitCode, EXIT.unchanged, `after health's update: ${noop2.stderr}`);
      t.is(await list(), afterUpdate);
      const status = JSON.parse((await nftlbIn(topo, h, ['status', '--json'])).stdout) as { live: string };
      t.is(status.live, 'matches');
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`, `${b2}:8080`], errors: 0 });

      // What the no-ops kept is what a full load of the same config and verdicts makes.
      const forced = await apply(topo, h, ['--force']);
      t.is(forced.exitCode, EXIT.ok, forced.stderr);
      t.deepEqual(await content(topo), kept);
      t.deepEqual(await guards(), [], 'a load replaces the guard');

      // A transaction by anyone else between health's change and apply: apply loads.
      await healthRound(topo, h); // full again (the load took the guard)
      await servers.stopOne(b2);
      await healthRound(topo, h);
      t.is((await healthRound(topo, h)).action, 'incremental');
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);
      await servers.stopOne(b0);
      await healthRound(topo, h);
      t.is((await healthRound(topo, h)).action, 'incremental');
      await topo.exec(topo.lb, ['nft', 'add', 'chain', 'inet', 'hc', 'by_hand']);
      const loaded = await apply(topo, h);
      t.is(loaded.exitCode, EXIT.ok, `a hand edit after health's change: ${loaded.stderr}`);
      t.notRegex(await list(), /by_hand/);

      // Health running on other text than apply loaded (the file edited, not applied): the record is not carried.
      await healthRound(topo, h); // full (the load took the guard)
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);
      const text = (await topo.exec(topo.lb, ['cat', h.config])).stdout;
      h.write(`${text}\n# edited\n`);
      await startBackends(topo, listenersFor([b0], [8080]));
      await healthRound(topo, h);
      const edited = await healthRound(topo, h);
      t.not(edited.action, 'none');
      h.write(text);
      const reapplied = await apply(topo, h);
      t.is(reapplied.exitCode, EXIT.ok, `health planned from other text: ${reapplied.stderr}`);
    });
  },
);

// The generation of apply's no-op record of the config (-1: none).
function recordGeneration(h: HealthEnv): number {
  try {
    const file = noopRecordFile(dirname(h.env['NFTLB_LOCK']!), h.config);
    return (JSON.parse(readFileSync(file, 'utf8')) as { generation?: number } | null)?.generation ?? -1;
  } catch {
    return -1;
  }
}

// Waits (bounded by count) until the record is carried past `than`: health --watch writes it after its state file.
async function carriedPast(h: HealthEnv, than: number): Promise<number> {
  for (let i = 0; i < 600 && recordGeneration(h) <= than; i++) await sleep(50);
  return recordGeneration(h);
}

kernelTest(
  "health --watch: its reloads and updates carry apply's record, so applies in between are no-ops",
  async (t) => {
    await withTopology({}, async (topo) => {
      const {
        b: [, b1],
        servers,
        h,
      } = await webBackends(topo);
      const list = async (): Promise<string> =>
        (await topo.exec(topo.lb, ['nft', 'list', 'table', 'inet', 'hc'])).stdout;
      t.is((await apply(topo, h)).exitCode, EXIT.ok);
      const loaded = recordGeneration(h);
      t.true(loaded > 0);
      const w = startWatch(topo, h);
      await waitFor(w.lines, /reloaded table \(no table loaded/, 60000);
      const afterFull = await carriedPast(h, loaded);
      t.true(afterFull > loaded, 'the full reload carried the record');
      const full = await list();
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);
      t.is(await list(), full);

      await servers.stopOne(b1);
      await waitFor(w.lines, /updated web/, 60000);
      t.true((await carriedPast(h, afterFull)) > afterFull, 'the update carried the record');
      const updated = await list();
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);
      t.is(await list(), updated, 'the guard stays');
      t.is(await w.stop(), 0);
    });
  },
);

kernelTest(
  "nftlb backend: its override carries apply's record, so the next apply of the config is a no-op",
  async (t) => {
    await withTopology({}, async (topo) => {
      const {
        b: [b0, b1, b2],
        h,
      } = await webBackends(topo);
      t.is((await apply(topo, h)).exitCode, EXIT.ok);
      const loaded = recordGeneration(h);
      await nftlbIn(topo, h, ['backend', 'drain', 'web', `${b1}:8080`]);
      t.true(recordGeneration(h) > loaded, 'the drain carried the record');
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b2}:8080`], errors: 0 });
      await nftlbIn(topo, h, ['backend', 'undrain', 'web', `${b1}:8080`]);
      t.is((await apply(topo, h)).exitCode, EXIT.unchanged);
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`, `${b2}:8080`], errors: 0 });
    });
  },
);
