// Helpers shared by the iptables tests.
import type { TestFn } from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/program.js';
import { checkConfig } from '../../src/config/read.js';
import type { Model } from '../../src/model/types.js';

// The repository's fixtures/ directory, found from the compiled test (dist/test/iptables) or the source tree.
export function fixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'fixtures')) && existsSync(join(dir, 'package.json'))) return join(dir, 'fixtures');
    dir = dirname(dir);
  }
  throw new Error('fixtures/ not found above the test file');
}

/** What one run of `nftlb import iptables` gave. */
export interface ImportRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** The input files, in order. */
  readonly files: readonly string[];
}

// Writes texts to files in a temporary folder (made once per test file, removed after it) and runs
// `nftlb import iptables` on them and on `more` (names given as they are), as a user would.
export function importRunner(test: TestFn): (texts: readonly string[], more?: readonly string[]) => Promise<ImportRun> {
  let dir = '';
  let seq = 0;
  test.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nftlb-import-'));
  });
  test.after.always(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return async (texts, more = []) => {
    const files: string[] = [];
    for (const text of texts) {
      const f = join(dir, `in-${++seq}.save`);
      await writeFile(f, text);
      files.push(f);
    }
    let out = '';
    let err = '';
    const code = await run(['import', 'iptables', ...files, ...more], {
      out: (s) => void (out += s),
      err: (s) => void (err += s),
    });
    return { code, out, err, files };
  };
}

// The model of a config text; throws with the diagnostics when it is invalid.
export function modelOf(file: string, text: string): Model {
  const c = checkConfig(file, text);
  if (c.model === undefined) throw new Error(`${file}: ${JSON.stringify(c.diagnostics)}`);
  return c.model;
}

// The model without what an iptables ruleset cannot carry: the nft table name and the source paths.
// A backend without a port in a one-port service is rendered (as in nft) with that port: the same thing.
export function comparable(m: Model): unknown {
  return m.services.map(({ path: _p, backends, ...s }) => {
    const only = s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last ? s.ports[0]!.first : undefined;
    return { ...s, backends: backends.map(({ path: _b, ...b }) => ({ ...b, port: b.port ?? only })) };
  });
}
