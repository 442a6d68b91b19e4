// The config's digest (src/system/config-file.ts, loadModelAndDigest) is what apply's no-op record keeps, and what a
// later apply compares with fileSha256 of the file: both must be the sha256 of the file's bytes.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NftlbError } from '../../src/common/errors.js';
import { loadModelAndDigest } from '../../src/system/config-file.js';
import { fileSha256 } from '../../src/system/files.js';
import { CONFIG } from '../support/run-command.js';

const withFile = async (bytes: Buffer, f: (file: string) => Promise<void>): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-config-file-test-'));
  try {
    const file = join(dir, 'nftlb.yaml');
    writeFileSync(file, bytes);
    await f(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('the digest of a config is the sha256 of its bytes, as fileSha256 gives it; a file not UTF-8 is refused', async (t) => {
  // Characters of several bytes (a comment in another language): the digest is of the bytes, not of a decoded text.
  for (const bytes of [Buffer.from(CONFIG), Buffer.from(`${CONFIG}# équipe réseau, 负载均衡\n`)]) {
    await withFile(bytes, async (file) => {
      const { sha256, model } = await loadModelAndDigest(file);
      t.is(model.services.length, 2);
      t.is(sha256, createHash('sha256').update(bytes).digest('hex'));
      t.is(await fileSha256(file), sha256 as string | null);
    });
  }
  // A byte that is not UTF-8, even in a comment: refused on its line, before anything is digested or planned.
  const latin1 = Buffer.concat([Buffer.from(CONFIG), Buffer.from([0x23, 0x20, 0xff, 0x0a])]);
  await withFile(latin1, async (file) => {
    const e = await t.throwsAsync(loadModelAndDigest(file), { instanceOf: NftlbError });
    t.is(e?.code, 'config-invalid');
    t.like(e?.diagnostics[0], { code: 'parse.encoding', line: CONFIG.split('\n').length });
  });
});

test('an invalid config is config-invalid, with or without its digest', async (t) => {
  await withFile(Buffer.from('services: [{name: 1}]\n'), async (file) => {
    const e = await t.throwsAsync(loadModelAndDigest(file), { instanceOf: NftlbError });
    t.is(e?.code, 'config-invalid');
  });
});
