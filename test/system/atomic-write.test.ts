// Staged writes (src/system/atomic-write.ts, stageFile; src/ops/apply-image.ts, stageApplyImage): apply writes its
// records while nft commits and puts them in place once the load is done.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyImageFile, readApplyImage, stageApplyImage } from '../../src/ops/apply-image.js';
import { removeDeadStaged, stageFile } from '../../src/system/atomic-write.js';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'nftlb-atomic-test-'));

test('a staged file leaves the file as it was until commit, which puts it in place with its head written over', async (t) => {
  const dir = scratch();
  try {
    const file = join(dir, 'f.json');
    writeFileSync(file, 'old\n');
    const staged = await stageFile(file, '    \nbody\n');
    t.is(readFileSync(file, 'utf8'), 'old\n', 'not in place before commit');
    t.is(readdirSync(dir).length, 2, 'the staged text is beside it');
    await staged.commit('head');
    t.is(readFileSync(file, 'utf8'), 'head\nbody\n');
    t.deepEqual(readdirSync(dir), ['f.json']);
    await staged.abort();
    t.is(readFileSync(file, 'utf8'), 'head\nbody\n', 'abort after commit does nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an aborted staged file leaves nothing behind and the file as it was; commit after abort does nothing', async (t) => {
  const dir = scratch();
  try {
    const file = join(dir, 'f.json');
    writeFileSync(file, 'old\n');
    const [a, b] = await Promise.all([stageFile(file, 'a\n'), stageFile(file, 'b\n')]);
    await a.abort();
    await a.commit();
    t.is(readFileSync(file, 'utf8'), 'old\n');
    await b.commit();
    t.is(readFileSync(file, 'utf8'), 'b\n', 'two staged versions do not share a temporary file');
    t.deepEqual(readdirSync(dir), ['f.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a staged image is no image until committed with its generation, then reads back with it', async (t) => {
  const dir = scratch();
  try {
    const staged = await stageApplyImage(dir, 'nftlb', '{"table":"x"}');
    t.is(await readApplyImage(dir, 'nftlb'), null);
    // A placeholder head put in place by hand (a crash between the steps cannot do that: commit writes the head first).
    const tmp = readdirSync(dir).find((f) => f.endsWith('.tmp'))!;
    writeFileSync(applyImageFile(dir, 'nftlb'), readFileSync(join(dir, tmp)));
    t.is(await readApplyImage(dir, 'nftlb'), null, 'the placeholder is not an image');
    await staged.commit(4242);
    const read = await readApplyImage(dir, 'nftlb');
    t.is(read?.generation, 4242);
    t.regex(
      readFileSync(applyImageFile(dir, 'nftlb'), 'utf8'),
      /^\{"nftlb":"[^"]+","generation":4242\} +\n\{"table":"x"\}\n$/,
    );
    t.deepEqual(readdirSync(dir), ['nftlb.image.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files staged by processes that are gone are removed; those of a live process and other files stay', async (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 4194305: past the kernel's largest pid_max (2^22), so no process has it.
  const dead = '.nftlb.applied.json.4194305.1.tmp';
  writeFileSync(join(dir, dead), 'x'.repeat(1000));
  writeFileSync(join(dir, 'nftlb.applied.json'), '{}');
  await stageFile(join(dir, 'nftlb.image.json'), 'x');
  t.is(await removeDeadStaged(dir), 1);
  const left = readdirSync(dir);
  t.false(left.includes(dead));
  t.true(left.includes('nftlb.applied.json'));
  t.true(
    left.some((f) => f.startsWith(`.nftlb.image.json.${process.pid}.`)),
    `this live process's staged file stays: ${left.join(' ')}`,
  );
});
