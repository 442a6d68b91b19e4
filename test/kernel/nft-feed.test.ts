// A script written to nft through the named pipe of the real executor's feed (src/system/executor.ts), as apply loads:
// nft commits it whole; a line the kernel refuses comes back as the script line it is, with nothing changed; a render
// that fails halfway kills nft before its input ends, so nothing is committed, not even the complete commands before.
import { NftlbError } from '../../src/common/errors.js';
import { systemExecutor, type Executor } from '../../src/system/executor.js';
import { resolveHost, type Host } from '../../src/system/host.js';
import { commitStream } from '../../src/system/nft.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

// nft (and every other program) in the balancer's namespace; the named pipe is in the shared /tmp.
function inLb(topo: Topology): Host {
  const base = systemExecutor();
  const exec: Executor = {
    run: (cmd, args, input) => base.run('ip', ['netns', 'exec', topo.lb, cmd, ...args], input),
    feed: (cmd, args, pieces, after) =>
      base.feed!('ip', (input) => ['netns', 'exec', topo.lb, cmd, ...args(input)], pieces, after),
  };
  return resolveHost(exec, {});
}

const tables = async (topo: Topology): Promise<string> => (await topo.exec(topo.lb, ['nft', 'list', 'ruleset'])).stdout;

// A table of `chains` chains with a rule each, in one piece per chain.
function* table(name: string, chains: number, bad?: number): Generator<string> {
  yield `table inet ${name} {\n`;
  for (let i = 0; i < chains; i++)
    yield `\tchain c${i} {\n\t\t${i === bad ? 'jump no_such_chain' : `counter comment "c${i}"`}\n\t}\n`;
  yield '}\n';
}

kernelTest('nft feed: a script in 2,002 pieces through the named pipe commits whole', async (t) => {
  await withTopology({}, async (topo) => {
    await commitStream(inLb(topo), table('feedok', 2000));
    const listed = await tables(topo);
    t.is(listed.match(/chain c\d+ \{/g)?.length, 2000);
    t.regex(listed, /comment "c1999"/);
  });
});

kernelTest('nft feed: a line the kernel refuses is reported as that script line; nothing is changed', async (t) => {
  await withTopology({}, async (topo) => {
    await topo.nft('table inet keep {\n\tchain k {\n\t}\n}\n');
    const before = await tables(topo);
    const e = await t.throwsAsync(commitStream(inLb(topo), table('feedbad', 500, 321)), { instanceOf: NftlbError });
    t.is(e?.code, 'nft-failed');
    // Line 1 opens the table; chain i takes lines 2+3i to 4+3i, its rule on 3+3i.
    t.regex(
      e?.detail ?? '',
      /^script line 966 \(chain c321\): Error: Could not process rule: No such file or directory$/m,
    );
    t.regex(e?.detail ?? '', /^\s+966 \| +jump no_such_chain$/m);
    t.is(await tables(topo), before);
  });
});

kernelTest(
  'nft feed: a render that throws halfway kills nft before its input ends; nothing is committed',
  async (t) => {
    await withTopology({}, async (topo) => {
      const before = await tables(topo);
      const pieces = function* (): Generator<string> {
        // Complete commands first: a truncated script of these alone would load.
        yield 'table inet early {\n}\n';
        yield* table('feedhalf', 1000);
        throw new Error('render failed');
      };
      await t.throwsAsync(commitStream(inLb(topo), pieces()), { message: 'render failed' });
      t.is(await tables(topo), before);
    });
  },
);
