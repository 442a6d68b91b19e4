// Golden files: every fixtures/iptables/<case>/config.yaml renders to expected/iptables.rules and
// expected/ip6tables.rules; fixtures/iptables/_refused_/<case> must be refused with expected/error.txt.
// UPDATE_GOLDEN=1 rewrites the expected files (review the diff like code).
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NftlbError } from '../../src/common/errors.js';
import { checkConfig } from '../../src/config/read.js';
import { renderIptablesScript } from '../../src/iptables/script.js';
import { plan } from '../../src/plan/plan.js';
import { fixturesDir } from './support.js';

const ROOT = join(fixturesDir(), 'iptables');
const update = process.env.UPDATE_GOLDEN === '1';

async function planOf(dir: string): Promise<ReturnType<typeof plan>> {
  const file = join(dir, 'config.yaml');
  const checked = checkConfig(file, await readFile(file, 'utf8'));
  if (checked.model === undefined) throw new Error(`${file}: ${JSON.stringify(checked.diagnostics)}`);
  return plan(checked.model);
}

async function golden(file: string, actual: string): Promise<string | undefined> {
  if (update) {
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, actual);
  }
  return existsSync(file) ? readFile(file, 'utf8') : undefined;
}

const cases = readdirSync(ROOT).filter((d) => !d.startsWith('_') && existsSync(join(ROOT, d, 'config.yaml')));
for (const name of cases) {
  test(`fixtures/iptables/${name}`, async (t) => {
    const p = await planOf(join(ROOT, name));
    for (const [family, file] of [
      [4, 'iptables.rules'],
      [6, 'ip6tables.rules'],
    ] as const) {
      const actual = renderIptablesScript(p, family);
      const expected = await golden(join(ROOT, name, 'expected', file), actual);
      t.not(expected, undefined, `missing expected/${file} (run with UPDATE_GOLDEN=1)`);
      t.is(actual, expected ?? '', `expected/${file}`);
      t.is(renderIptablesScript(p, family), actual, 'deterministic');
    }
  });
}

const refusedRoot = join(ROOT, '_refused_');
for (const name of existsSync(refusedRoot) ? readdirSync(refusedRoot) : []) {
  test(`fixtures/iptables/_refused_/${name}`, async (t) => {
    const p = await planOf(join(refusedRoot, name));
    const errors: string[] = [];
    for (const family of [4, 6] as const) {
      try {
        renderIptablesScript(p, family);
      } catch (e) {
        t.true(e instanceof NftlbError && e.code === 'unsupported', String(e));
        errors.push((e as Error).message);
      }
    }
    t.true(errors.length > 0, 'the config must be refused');
    const expected = await golden(join(refusedRoot, name, 'expected', 'error.txt'), `${errors.join('\n')}\n`);
    t.is(`${errors.join('\n')}\n`, expected ?? '');
  });
}
