// 100 reloads under traffic: no connection fails, a long-lived connection survives, hashing keeps clients in place.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { openLongLived, probe, type ProbeResult } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { nftlb, webConfig, workDir, writeConfig } from './support/ops.js';

const RELOADS = 100;
const MAX_BATCHES = 400;

kernelTest(
  `${RELOADS} reloads while a client keeps connecting: zero failed connections, the long-lived one survives`,
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: dir };
      await startBackends(topo, listenersFor(topo.backendV4.slice(0, 3), [8080]));
      // Where a refused connection's reset would come from, counted by a table of the test's own (nftlb leaves other
      // tables alone): the balancer's own stack answering VIP:80 (no DNAT), a reject rule, or a backend.
      const diag =
        'table inet rst_diag {\n chain out {\n  type filter hook output priority 0; policy accept;\n  tcp sport 80 tcp flags rst counter\n  meta l4proto icmp counter\n  tcp flags rst counter\n }\n}\n';
      for (const ns of [topo.lb, topo.backend]) await topo.exec(ns, ['nft', '-f', '-'], { input: diag });
      const resets = async (): Promise<string> => {
        const out: string[] = [];
        for (const ns of ['lb', 'backend'] as const) {
          const r = await topo.exec(topo[ns], ['nft', 'list', 'chain', 'inet', 'rst_diag', 'out']);
          out.push(
            `${ns}: ${r.stdout
              .split('\n')
              .filter((l) => l.includes('counter'))
              .map((l) => l.trim())
              .join('; ')}`,
          );
        }
        return out.join('\n');
      };
      // Two configs that differ in weights, so every apply really replaces the table.
      const cfgs = [
        writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 3])),
        writeConfig(dir, 'b.yaml', webConfig(topo, [3, 2, 1])),
      ];
      t.is((await nftlb(topo, ['apply', '-c', cfgs[0]!], env)).exitCode, EXIT.ok);
      const sticky = async (): Promise<(string | null)[]> =>
        (
          await probe(topo, {
            target: topo.vip4,
            port: 81,
            proto: 'tcp',
            count: 20,
            sources: topo.clientV4.slice(0, 20),
          })
        ).map((r) => r.backend);
      const stickyBefore = await sticky();
      t.true(stickyBefore.every((b) => b !== null));
      // The hold ends when the test closes it; its own limit is only a safety net for a crashed test, far above any run.
      const hold = await openLongLived(topo, { target: topo.vip4, port: 80, maxSeconds: 3600 });

      let done = false;
      const codes: number[] = [];
      const bad: string[] = [];
      const forms: string[] = [];
      const reloads = (async () => {
        try {
          for (let i = 0; i < RELOADS; i++) {
            // Both ways a reload goes: by a delta from the last load's image (most), and in full, in place (every
            // third: --force loads in full).
            const force = i % 3 === 2 ? ['--force'] : [];
            const r = await nftlb(topo, ['apply', '-c', cfgs[(i + 1) % 2]!, '--json', ...force], env);
            codes.push(r.exitCode);
            if (r.exitCode === EXIT.ok)
              forms.push((JSON.parse(r.stdout) as { load?: { form?: string } }).load?.form ?? 'none');
            if (r.exitCode !== EXIT.ok) bad.push(`reload ${i + 1}: exit ${r.exitCode}: ${r.stderr.trim()}`);
            if (i % 10 === 9) t.is(await hold.ping(), hold.backend, `long-lived connection after reload ${i + 1}`);
          }
        } finally {
          done = true;
        }
      })();
      const results: ProbeResult[] = [];
      let batches = 0;
      while (!done && batches < MAX_BATCHES) {
        results.push(
          ...(await probe(topo, {
            target: topo.vip4,
            port: 80,
            proto: 'tcp',
            count: 25,
            sources: topo.clientV4,
            timeoutMs: 3000,
          })),
        );
        batches++;
      }
      await reloads;
      t.deepEqual(bad, [], 'every reload loads (exit 0)');
      t.is(codes.length, RELOADS);
      t.is(forms.filter((f) => f === 'full').length, Math.floor(RELOADS / 3), 'the forced reloads were full');
      t.is(forms.filter((f) => f === 'delta').length, RELOADS - Math.floor(RELOADS / 3), 'the others were deltas');
      const failed = results.filter((r) => r.backend === null);
      if (failed.length > 0) t.log(`resets and ICMP sent (output hook):\n${await resets()}`);
      t.deepEqual(failed, [], `${failed.length} of ${results.length} connections failed`);
      t.true(
        results.length >= 100,
        `the client overlapped the reloads (${results.length} connections in ${batches} batches)`,
      );
      t.log(`${results.length} connections in ${batches} batches during ${RELOADS} reloads`);
      t.is(await hold.ping(), hold.backend);
      t.deepEqual(await sticky(), stickyBefore, 'source-hash keeps every client on its backend across reloads');
      await hold.close();
    });
  },
);
