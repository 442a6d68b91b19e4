// `nftlb import iptables` of what the kernel hands back: each iptables render of fixtures/iptables is loaded with
// iptables-restore (nft and legacy backends) in a namespace, read back with iptables-save and ip6tables-save, and
// imported; every rule is understood and the services are the fixture's.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { comparable, fixturesDir, importRunner, modelOf } from '../iptables/support.js';
import { backendUsable, loadIptables, tool, type IptBackend } from './iptables-lib.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

const ROOT = join(fixturesDir(), 'iptables');
const importTexts = importRunner(test);

// Empties the nat and filter tables of one family in the lb namespace (the previous fixture's chains).
async function clear(topo: Topology, family: 4 | 6, backend: IptBackend): Promise<void> {
  for (const table of ['nat', 'filter'])
    for (const op of ['-F', '-X']) await topo.exec(topo.lb, [tool(family, backend, ''), '-t', table, op]);
}

for (const backend of ['nft', 'legacy'] as const) {
  kernelTest(
    `iptables-${backend}-save of every loaded fixture render imports back to the fixture's services`,
    async (t) => {
      const cases = readdirSync(ROOT).filter((d) => !d.startsWith('_') && existsSync(join(ROOT, d, 'expected')));
      t.true(cases.length >= 4, `fixtures found: ${cases.join(', ')}`);
      await withTopology({ clients: 1, backends4: 1, backends6: 1 }, async (topo) => {
        const usable = await backendUsable(topo, backend);
        if (!usable.ok) {
          if (backend === 'nft') t.fail(`iptables nft backend unusable: ${usable.reason}`);
          else {
            console.error(`IPTABLES-LEGACY TEST SKIPPED: ${usable.reason} (${t.title})`);
            t.log(`IPTABLES-LEGACY TEST SKIPPED: ${usable.reason}`);
            t.pass();
          }
          return;
        }
        for (const name of cases) {
          const saved: string[] = [];
          for (const [family, file] of [
            [4, 'iptables.rules'],
            [6, 'ip6tables.rules'],
          ] as const) {
            await clear(topo, family, backend);
            await loadIptables(topo, await readFile(join(ROOT, name, 'expected', file), 'utf8'), family, backend);
            saved.push((await topo.exec(topo.lb, [tool(family, backend, '-save')])).stdout);
          }
          t.regex(saved[0]!, /^-A PREROUTING -j NFTLB-DISPATCH$/m, `${name}: the saved ruleset holds the hooks`);
          const r = await importTexts(saved);
          t.is(r.err, '', `${name}: every rule understood`);
          t.is(r.code, EXIT.ok, name);
          const original = modelOf('config.yaml', await readFile(join(ROOT, name, 'config.yaml'), 'utf8'));
          t.deepEqual(comparable(modelOf('import.yaml', r.out)), comparable(original), name);
        }
      });
    },
  );
}
