import test from 'ava';
import { execa } from 'execa';
import { identProblem, MAX_NAME_LENGTH } from '../../src/nft/names.js';
import { NFT_TABLE_KEYWORDS } from '../../src/nft/keywords.js';
import { trackNamespace, untrackNamespace } from '../kernel/support/cleanup.js';
import { kernelTest } from '../kernel/support/kernel-test.js';
import { SYSTEM_ENV } from '../kernel/support/system-path.js';

// The generated keyword list against the installed nft: every word in it is refused as a table name, and names that
// nftlb takes (any shape the name grammar allows) are accepted in every command nftlb sends. Runs nft in a network
// namespace of its own (root); skips loudly without one, fails under CI=true.

test('the keyword list is the one scripts/nft-keywords.mjs made (sorted, no duplicates, no unsafe shape)', (t) => {
  t.deepEqual([...NFT_TABLE_KEYWORDS].sort(), NFT_TABLE_KEYWORDS);
  t.is(new Set(NFT_TABLE_KEYWORDS).size, NFT_TABLE_KEYWORDS.length);
  for (const w of NFT_TABLE_KEYWORDS) t.regex(w, /^[A-Za-z_.][A-Za-z0-9_.-]*$/);
  for (const w of ['size', 'add', 'counter', 'fwd', 'timeout']) t.regex(identProblem(w) ?? '', /keyword/);
  for (const w of ['lb-2', '_x', '.x', 'a..b', 'SIZE']) t.is(identProblem(w), undefined);
});

// The commands nftlb sends with a table name in them (scripts/nft-keywords.mjs tries the same).
const script = (name: string): string =>
  [
    `table inet ${name} {\n\tcomment "nftlb-test"\n}`,
    `delete table inet ${name}`,
    `add table inet ${name}`,
    `add chain inet ${name} c`,
    `add map inet ${name} m { type mark : verdict; elements = { 1 : drop } }`,
    `flush chain inet ${name} c`,
    `delete element inet ${name} m { 1 }`,
    `delete chain inet ${name} c`,
    `delete table inet ${name}`,
    '',
  ].join('\n');

kernelTest(
  'kernel: nft refuses every generated keyword as a table name and takes the names nftlb allows',
  async (t) => {
    const ns = `nftlbt-${process.pid}-kw`;
    const nft = (args: string[], input?: string) =>
      execa('ip', ['netns', 'exec', ns, 'nft', ...args], {
        env: SYSTEM_ENV,
        reject: false,
        timeout: 20_000,
        ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
      });
    trackNamespace(ns);
    await execa('ip', ['netns', 'add', ns], { env: SYSTEM_ENV });
    try {
      const refusedAnywhere = async (name: string): Promise<boolean> => {
        if ((await nft(['-c', '-f', '-'], script(name))).exitCode !== 0) return true;
        return /syntax error/.test((await nft(['-t', 'list', 'table', 'inet', name])).stderr);
      };
      for (const w of NFT_TABLE_KEYWORDS) t.true(await refusedAnywhere(w), `nft takes "${w}": not a keyword`);
      for (const name of ['nftlb', 'lb-2', 'lb_2', '_x', '.x', '..', 'a.b-c_d', 'SIZE', 'x'.repeat(MAX_NAME_LENGTH)]) {
        t.is(identProblem(name), undefined, name);
        const r = await nft(['-c', '-f', '-'], script(name));
        t.is(r.exitCode, 0, `${name}: ${r.stderr}`);
      }
    } finally {
      await execa('ip', ['netns', 'del', ns], { env: SYSTEM_ENV, reject: false });
      untrackNamespace(ns);
    }
  },
);
