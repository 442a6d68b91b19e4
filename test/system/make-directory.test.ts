// makeDirectory (src/system/files.ts): mkdir -p with the host's own reason when it cannot, in bounded time; Node's
// recursive mkdir loops for ever under /proc.
import test from 'ava';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NftlbError } from '../../src/common/errors.js';
import { makeDirectory } from '../../src/system/files.js';
import { scratch } from '../support/run-command.js';

test('makes every missing level with the mode asked, and takes a directory that is there', async (t) => {
  const { dir } = scratch('');
  const deep = join(dir, 'a', 'b', 'c');
  await makeDirectory(deep, 'the test directory', 0o700);
  t.true(statSync(deep).isDirectory());
  t.is(statSync(join(dir, 'a')).mode & 0o777, 0o700 & ~process.umask());
  await makeDirectory(deep, 'the test directory');
  await makeDirectory(dir, 'the test directory');
});

test('a file in the way, as the directory or above it, is a host fault naming the path', async (t) => {
  const { dir } = scratch('');
  const file = join(dir, 'file');
  writeFileSync(file, 'x');
  const inWay = await t.throwsAsync(makeDirectory(file, 'the state directory'), { instanceOf: NftlbError });
  t.is(inWay?.code, 'host-fault');
  t.regex(
    inWay?.message ?? '',
    /cannot create the state directory .*\/file: a file is in the way of a directory \(EEXIST\)/,
  );
  const above = await t.throwsAsync(makeDirectory(join(file, 'x', 'y'), 'the state directory'), {
    instanceOf: NftlbError,
  });
  t.regex(above?.message ?? '', /a part of the path is a file, not a directory \(ENOTDIR\)/);
});

test('a level the file system will not make (under /proc) is a host fault, not a loop', async (t) => {
  for (const path of [`/proc/nftlb-test-${process.pid}`, `/proc/nftlb-test-${process.pid}/run/lock`]) {
    const e = await t.throwsAsync(makeDirectory(path, 'the directory of the lock file'), { instanceOf: NftlbError });
    t.is(e?.code, 'host-fault');
    t.regex(e?.message ?? '', new RegExp(`cannot create the directory of the lock file ${path}: .*\\(ENOENT\\)`));
  }
});
