import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { formatDiagnostic } from '../src/common/diagnostic.js';
import { checkConfig } from '../src/config/read.js';
import { renderNftScript } from '../src/nft/script.js';
import { plan } from '../src/plan/plan.js';
import type { Plan } from '../src/plan/types.js';
import { FIXTURES, fixtureConfig } from './support/fixtures.js';

// Golden tests: every fixtures/<feature>/<case>/ with a config is run through each stage and compared with expected/.
// `make golden` (UPDATE_GOLDEN=1) rewrites the goldens; review the diff like code.
const update = process.env.UPDATE_GOLDEN === '1';

function cases(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (!statSync(p).isDirectory() || name === 'expected') continue;
    if (fixtureConfig(p) !== undefined) out.push(p);
    else out.push(...cases(p));
  }
  return out;
}

function golden(t: import('ava').ExecutionContext, dir: string, file: string, actual: string): void {
  const path = join(dir, 'expected', file);
  if (update) {
    mkdirSync(join(dir, 'expected'), { recursive: true });
    writeFileSync(path, actual);
    t.pass();
    return;
  }
  t.true(existsSync(path), `missing golden ${relative(FIXTURES, path)}; run make golden`);
  t.is(actual, readFileSync(path, 'utf8'), `${relative(FIXTURES, path)} differs; run make golden and review the diff`);
}

// Slots are listed as runs (backend id x count) so a Maglev table stays readable in a golden.
function planForGolden(p: Plan): unknown {
  return {
    ...p,
    services: p.services.map((s) => ({
      ...s,
      pools: s.pools.map((pool) => {
        const runs: string[] = [];
        let i = 0;
        while (i < pool.slots.length) {
          let j = i;
          while (j < pool.slots.length && pool.slots[j] === pool.slots[i]) j++;
          runs.push(`${pool.slots[i]}x${j - i}`);
          i = j;
        }
        return { ...pool, slots: runs.join(' ') };
      }),
    })),
  };
}

for (const dir of cases(FIXTURES).filter((d) => !relative(FIXTURES, d).startsWith('iptables'))) {
  const name = relative(FIXTURES, dir);
  const isError = name.startsWith('_error_');
  test(`fixture ${name}`, (t) => {
    const file = fixtureConfig(dir)!;
    const checked = checkConfig(file, readFileSync(join(dir, file), 'utf8'));
    const diags = checked.diagnostics.map((d) => formatDiagnostic(file, d)).join('\n');
    if (isError) {
      t.is(checked.model, undefined, 'an _error_ fixture must be refused');
      golden(t, dir, 'diagnostics.txt', `${diags}\n`);
      return;
    }
    t.truthy(checked.model, `unexpected diagnostics:\n${diags}`);
    if (checked.model === undefined) return;
    const p = plan(checked.model);
    golden(t, dir, 'model.json', `${JSON.stringify(checked.model, null, 2)}\n`);
    golden(t, dir, 'plan.json', `${JSON.stringify(planForGolden(p), null, 2)}\n`);
    golden(t, dir, 'script.nft', renderNftScript(p).text);
    if (diags !== '') golden(t, dir, 'diagnostics.txt', `${diags}\n`);
  });
}
