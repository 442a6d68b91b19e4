// Bundles the CLI into one file (dist/nftlb.mjs) that runs without node_modules, and writes the editor JSON Schema.
import { build } from 'esbuild';
import { chmod, writeFile } from 'node:fs/promises';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/nftlb.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  legalComments: 'none',
  // Prefer ESM builds: jsonc-parser's UMD main cannot be bundled.
  mainFields: ['module', 'main'],
  // commander and ajv are CommonJS and require() node built-ins; ESM output needs a real require for them.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __nftlbCreateRequire } from 'node:module';\nconst require = __nftlbCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
await chmod('dist/nftlb.mjs', 0o755);

const { configSchema } = await import('../dist/src/config/schema.js');
await writeFile('dist/nftlb.schema.json', `${JSON.stringify(configSchema, null, 2)}\n`);
