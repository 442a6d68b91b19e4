// nftlb import iptables: the render of every fixture imports back to the same services, and a recipe written the
// common way imports to its golden config with every rule it cannot express listed by line.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../src/cli/program.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { comparable, fixturesDir, modelOf as model } from './support.js';

const ROOT = join(fixturesDir(), 'iptables');

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

const cases = readdirSync(ROOT).filter(
  (d) => !d.startsWith('_') && existsSync(join(ROOT, d, 'expected', 'iptables.rules')),
);
for (const name of cases) {
  test(`round trip: import of the iptables render of fixtures/iptables/${name} gives the same services`, async (t) => {
    const dir = join(ROOT, name);
    const r = await runCli([
      'import',
      'iptables',
      join(dir, 'expected', 'iptables.rules'),
      join(dir, 'expected', 'ip6tables.rules'),
    ]);
    t.is(r.err, '', 'every rule understood');
    t.is(r.code, EXIT.ok);
    const original = model('config.yaml', await readFile(join(dir, 'config.yaml'), 'utf8'));
    t.deepEqual(comparable(model('import.yaml', r.out)), comparable(original));
  });
}

test('recipe: statistic nth/random chains, inline DNAT, MASQUERADE, FORWARD accepts, CONNMARK; -m recent listed by line', async (t) => {
  const dir = join(ROOT, 'import', 'recipe');
  const r = await runCli(['import', 'iptables', join(dir, 'iptables.save')]);
  t.is(r.code, EXIT.importIncomplete);
  const err = r.err.replaceAll(dir, '<dir>');
  if (process.env.UPDATE_GOLDEN === '1') {
    await writeFile(join(dir, 'expected', 'config.yaml'), r.out);
    await writeFile(join(dir, 'expected', 'stderr.txt'), err);
  }
  t.is(r.out, await readFile(join(dir, 'expected', 'config.yaml'), 'utf8'));
  t.is(err, await readFile(join(dir, 'expected', 'stderr.txt'), 'utf8'));
  t.regex(err, /iptables\.save:47: not understood: option --rcheck/);
  t.regex(err, /iptables\.save:36: not understood: its chain SVC83/);
});

test('import refuses nothing silently: unknown lines and unknown options are listed with their line', async (t) => {
  const { parseSave } = await import('../../src/iptables/import/save-parser.js');
  const p = parseSave(
    'x',
    '*nat\n-A PREROUTING -d 203.0.113.1/32 -p tcp --dport 80 -j DNAT --to-destination 198.51.100.2:80\n-I PREROUTING -j X\n-A P -m foo --bar 1 -j ACCEPT\nbogus\n',
  );
  t.is(p.rules.length, 1);
  t.deepEqual(
    p.problems.map((x) => x.line),
    [3, 4, 5],
  );
});
