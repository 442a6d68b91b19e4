// Bundles the CLI into dist/nftlb.mjs and its chunks (dist/nftlb-*.mjs), which run without node_modules, and writes the editor JSON Schema and
// the licence notices of what the bundle contains (dist/copyright). Runs after tsc: it reads the compiled schema. The config validator is compiled by ajv here, ahead of time (ajv's
// standalone code), instead of on every start of the command (~120 ms).
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';
import { bundledPackages, debianCopyright } from './licenses.mjs';

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

// The build's identity (src/common/version.ts, BUILD): a digest of the compiled code and the locked dependencies. Two
// builds of one VERSION that differ in any of them do not trust each other's records (apply's no-op record).
async function buildDigest() {
  const h = createHash('sha256');
  const files = (await readdir('dist/src', { recursive: true })).filter((f) => f.endsWith('.js')).sort();
  for (const f of files)
    h.update(`${f}\0`)
      .update(await readFile(`dist/src/${f}`))
      .update('\0');
  h.update(validatorCode).update(await readFile(new URL('../package-lock.json', import.meta.url)));
  return h.digest('hex').slice(0, 12);
}
const buildId = await buildDigest();

// Chunks of an earlier build would be left beside the new ones (their names carry a content hash).
for (const f of await readdir('dist')) if (/^nftlb-.*\.mjs$/.test(f)) await rm(`dist/${f}`);
const result = await build({
  entryPoints: { nftlb: 'src/cli/main.ts' },
  outdir: 'dist',
  // The entry loads only what a command needs: `nftlb apply`'s no-op proof (src/cli/fast-apply.ts) is a small chunk, and
  // the rest of nftlb (commander, ajv's validator, the YAML parsers) is loaded only when that proof does not settle it.
  splitting: true,
  chunkNames: 'nftlb-[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  // The notices go to dist/copyright, complete (legal comments would cover only the packages that write them).
  legalComments: 'none',
  metafile: true,
  // Prefer ESM builds: jsonc-parser's UMD main cannot be bundled.
  mainFields: ['module', 'main'],
  // commander and ajv are CommonJS and require() node built-ins; ESM output needs a real require for them. The file
  // must keep its .mjs name (or be reached through a symlink of that name): Node 18 reads it as ESM only then. The
  // banner goes on every output file; the hashbang is src/cli/main.ts's own, which esbuild keeps on the entry alone.
  banner: {
    js: [
      '// nftlb, bundled with npm packages; licences: LICENSE and dist/copyright (installed: /usr/share/doc/nftlb/copyright).',
      "import { createRequire as __nftlbCreateRequire } from 'node:module';",
      'const require = __nftlbCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  plugins: [precompiledValidator],
  define: { __NFTLB_BUILD__: JSON.stringify(buildId) },
  logLevel: 'warning',
});
await chmod('dist/nftlb.mjs', 0o755);

await writeFile('dist/nftlb.schema.json', `${JSON.stringify(configSchema, null, 2)}\n`);

// The bundle's inputs (esbuild's metafile): which npm packages it contains, for the notices and their test.
await writeFile('dist/nftlb.meta.json', JSON.stringify(result.metafile));
const root = fileURLToPath(new URL('..', import.meta.url));
await writeFile(
  'dist/copyright',
  debianCopyright({
    ownLicense: await readFile(new URL('../LICENSE', import.meta.url), 'utf8'),
    packages: bundledPackages(result.metafile, root),
    installedAs: '/usr/lib/nftlb/nftlb*.mjs',
  }),
);
