// apply's no-op proof against the real kernel, in namespaces: the ruleset generation read over netlink moves with every
// transaction, so a hand edit of an element or a rule, a table replaced or deleted by hand, and a change to another
// table are noticed and the config is loaded again (the ruleset then is exactly what the config gives).
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { nftlb, ruleset, webConfig, workDir, writeConfig } from './support/ops.js';

kernelTest(
  'a no-op apply is proven by the ruleset generation; a hand edit or a replaced table is noticed and loaded over',
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
      const cfg = writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 3]));
      const apply = () => nftlb(topo, ['apply', '-c', cfg], env);
      t.is((await apply()).exitCode, EXIT.ok);
      const loaded = await ruleset(topo);
      const unchanged = await apply();
      t.deepEqual([unchanged.exitCode, unchanged.stdout, unchanged.stderr], [EXIT.unchanged, '', '']);

      const edits: [string, string[]][] = [
        ['a backend element deleted by hand', ['delete', 'element', 'inet', 'nftlb', 'backends4', '{ 1 }']],
        ['a rule added by hand', ['add', 'rule', 'inet', 'nftlb', 'pick', 'counter']],
        ['a chain added by hand', ['add', 'chain', 'inet', 'nftlb', 'extra']],
        ['another table changed', ['add', 'table', 'ip', 'other']],
        ['the table deleted by hand', ['delete', 'table', 'inet', 'nftlb']],
      ];
      for (const [what, cmd] of edits) {
        await topo.exec(topo.lb, ['nft', ...cmd]);
        t.not(await ruleset(topo), loaded, `${what}: the edit took`);
        const r = await apply();
        t.is(r.exitCode, EXIT.ok, `${what}: ${r.stderr}`);
        const now = (await ruleset(topo)).replace(/table ip other \{\n\}\n?/, '');
        t.is(now.trim(), loaded.trim(), `${what}: loaded over`);
        const again = await apply();
        t.is(again.exitCode, EXIT.unchanged, `${what}: then a no-op again: ${again.stderr}`);
      }
      // A table replaced by hand with an older script of the same name.
      const old = writeConfig(dir, 'old.yaml', webConfig(topo, [3, 2, 1]));
      const script = (await nftlb(topo, ['render', '-c', old], env)).stdout;
      await topo.nft(script);
      t.is((await apply()).exitCode, EXIT.ok, 'a replaced table');
      t.is((await apply()).exitCode, EXIT.unchanged);
      // The config rewritten with the same text stays a no-op; another text is loaded.
      writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 3]));
      t.is((await apply()).exitCode, EXIT.unchanged);
      writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 4]));
      t.is((await apply()).exitCode, EXIT.ok);
    });
  },
);
