// Bundles the CLI into one file (dist/nftlb.mjs) that runs without node_modules, and writes the editor JSON Schema.
// Runs after tsc: it reads the compiled schema. The config validator is compiled by ajv here, ahead of time (ajv's
// standalone code), instead of on every start of the command (~120 ms).
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { build } from 'esbuild';
import { chmod, writeFile } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';

const { configSchema } = await import('../dist/src/config/schema.js');
const { AJV_OPTIONS } = await import('../dist/src/config/schema-validator.js');
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
ajv.addSchema(configSchema, 'nftlb-config');
const validatorCode = standaloneCode.default(ajv, { validateConfig: 'nftlb-config' });

// src/config/schema-validator.ts, as imported by schema-check.ts, becomes the precompiled validator.
const precompiledValidator = {
  name: 'precompiled-validator',
  setup(b) {
    b.onResolve({ filter: /^\.\/schema-validator\.js$/ }, (args) =>
      args.importer.endsWith('schema-check.ts') ? { path: 'validator', namespace: 'nftlb-precompiled' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'nftlb-precompiled' }, () => ({
      contents: validatorCode,
      loader: 'js',
      resolveDir: fileURLToPath(new URL('..', import.meta.url)),
    }));
  },
};

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
  plugins: [precompiledValidator],
  logLevel: 'warning',
});
await chmod('dist/nftlb.mjs', 0o755);

await writeFile('dist/nftlb.schema.json', `${JSON.stringify(configSchema, null, 2)}\n`);
