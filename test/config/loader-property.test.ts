import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CONFIG_BYTES } from '../../src/config/limits.js';
import { cli } from '../support/cli.js';

// Property of the loader: whatever bytes a config file holds, however deep or large, `nftlb check` ends with exit 3
// (invalid, every diagnostic on a line of the file) or 4 (unreadable), prints nothing on stdout and never crashes.
// Bounded: a fixed number of runs, inputs of at most a few MB (and sparse files past the size limit).
const dir = mkdtempSync(join(tmpdir(), 'nftlb-prop-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function checkFile(data: Uint8Array | string, ext: 'yaml' | 'json', sparseSize?: number): Promise<void> {
  const file = join(dir, `c${n++}.${ext}`);
  writeFileSync(file, data);
  if (sparseSize !== undefined) truncateSync(file, sparseSize);
  const r = await cli(['check', '-c', file]);
  rmSync(file);
  const fail = (why: string): never => {
    throw new Error(`${why}\nexit ${r.code}\nstderr: ${r.stderr.slice(0, 2000)}`);
  };
  if (r.code !== 3 && r.code !== 4) fail('exit code is not 3 or 4');
  if (r.stdout !== '') fail('stdout is not empty');
  const lines = r.stderr.trimEnd().split('\n');
  // Every line is a diagnostic with its line number, or nftlb's own summary line.
  const diagnostic = (l: string): boolean => l.startsWith(`${file}:`) && /^:[0-9]+: /.test(l.slice(file.length));
  for (const l of lines)
    if (!diagnostic(l) && !l.startsWith('nftlb: ')) fail(`a line that is neither: ${l.slice(0, 200)}`);
  if (r.code === 3 && !lines.some(diagnostic)) fail('exit 3 without a diagnostic on a line');
}

const ext = fc.constantFrom<'yaml' | 'json'>('yaml', 'json');

test('random bytes', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), ext, (bytes, e) => checkFile(bytes, e)),
    { numRuns: 150 },
  );
  t.pass();
});

test('random text that looks like a config', async (t) => {
  const token = fc.constantFrom(
    'services:',
    '\n',
    '  - ',
    'name: a',
    'vip: ',
    '203.0.113.1',
    'port: 80',
    'backends:',
    '[',
    ']',
    '{',
    '}',
    ',',
    ':',
    '"',
    "'",
    '&a ',
    '*a',
    '!!str ',
    '%YAML 1.1\n',
    '---\n',
    '#',
    '{"services": [',
    '"x": 1',
    '\t',
    '~',
    '? ',
  );
  await fc.assert(
    fc.asyncProperty(fc.array(token, { maxLength: 200 }), ext, (tokens, e) => checkFile(tokens.join(''), e)),
    { numRuns: 150 },
  );
  t.pass();
});

test('random nesting, closed or not, up to 200,000 levels', async (t) => {
  const open = fc.constantFrom('[', '{"a":', '{a: ', '- ', '[{"b": [', 'a:\n ', '? ');
  await fc.assert(
    fc.asyncProperty(open, fc.integer({ min: 1, max: 200_000 }), fc.boolean(), ext, (o, depth, closed, e) => {
      const close = o.includes('{') ? '}'.repeat(o.split('{').length - 1) : '';
      const text = `${o.repeat(depth)}1${closed ? `${']'.repeat((o.split('[').length - 1) * depth)}${close.repeat(depth)}` : ''}\n`;
      return checkFile(text, e);
    }),
    { numRuns: 40 },
  );
  t.pass();
});

test('random sizes, up to past the size limit', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 200_000 }),
      fc.option(fc.integer({ min: MAX_CONFIG_BYTES + 1, max: 2 * MAX_CONFIG_BYTES }), { nil: undefined }),
      ext,
      (piece, count, sparse, e) => checkFile(`services:\n  - ${piece.repeat(count)}\n`, e, sparse),
    ),
    { numRuns: 25 },
  );
  t.pass();
});
