import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeDirectory } from './files.js';
import { hostFault } from './host-fault.js';

// Writes a file so readers see either the old or the new content, also after a crash or power loss: a temporary file
// in the same directory, written and fsync'ed, then rename(2), then an fsync of the directory so the rename itself is
// on disk. node_exporter's textfile collector, `diff` and `nftlb health` rely on this. A failure is a host-fault error
// naming the path.
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await makeDirectory(dir, 'the directory');
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw hostFault('write', file, e);
  }
  // The rename is durable once the directory is; a file system that cannot sync a directory (EINVAL) has no such need.
  const dh = await open(dir, 'r').catch(() => undefined);
  await dh
    ?.sync()
    .catch(() => undefined)
    .finally(() => dh.close());
}
