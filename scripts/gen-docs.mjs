// Generates nftlb(8), nftlb.conf(5) and the bash and zsh completions from the sources they describe (the compiled
// program tree in dist/, src/cli/exit-codes.ts, the JSON Schema, README.md), so none of them can drift:
//   node scripts/gen-docs.mjs            writes them (make man, make completion)
//   node scripts/gen-docs.mjs --check    exits 1 and names each file that differs from what would be written
// Runs after tsc (make build).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { bashCompletion, zshCompletion } from './docs/completion.mjs';
import { envVarsRead } from './docs/env-vars.mjs';
import { exitCodes } from './docs/exit-codes.mjs';
import { confManPage } from './docs/man-conf.mjs';
import { nftlbManPage } from './docs/man-nftlb.mjs';
import { programTree } from './docs/program-tree.mjs';

// Every generated file: repository-relative path -> its text.
export async function generateDocs(root = new URL('..', import.meta.url)) {
  const at = (p) => fileURLToPath(new URL(p, root));
  const read = (p) => readFileSync(at(p), 'utf8');
  const tree = await programTree(root);
  const { configSchema } = await import(new URL('dist/src/config/schema.js', root).href);
  return new Map([
    [
      'man/nftlb.8',
      nftlbManPage({
        template: read('man/nftlb.8.in'),
        tree,
        codes: exitCodes(at('src/cli/exit-codes.ts')),
        envRead: envVarsRead(at('src')),
      }),
    ],
    [
      'man/nftlb.conf.5',
      confManPage({
        template: read('man/nftlb.conf.5.in'),
        schema: configSchema,
        readme: read('README.md'),
        version: tree.version,
      }),
    ],
    ['templates/completion/nftlb.bash', bashCompletion(tree)],
    ['templates/completion/_nftlb', zshCompletion(tree)],
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = new URL('..', import.meta.url);
  const check = process.argv.includes('--check');
  const only = process.argv.includes('--man') ? 'man/' : process.argv.includes('--completion') ? 'templates/' : '';
  let stale = 0;
  for (const [path, text] of await generateDocs(root)) {
    if (!path.startsWith(only)) continue;
    const file = fileURLToPath(new URL(path, root));
    let old = null;
    try {
      old = readFileSync(file, 'utf8');
    } catch {
      // not written yet
    }
    if (old === text) continue;
    if (check) {
      console.error(`${path} is out of date: run make man completion`);
      stale++;
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${path}`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
