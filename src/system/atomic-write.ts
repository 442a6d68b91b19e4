import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeDirectory } from './files.js';
import { hostFault } from './host-fault.js';
import { processStart } from './process.js';

// Writes a file so readers see either the old or the new content, also after a crash or power loss: a temporary file
// in the same directory, written and fsync'ed, then rename(2), then an fsync of the directory so the rename itself is
// on disk. node_exporter's textfile collector, `diff` and `nftlb health` rely on this. A failure is a host-fault error
// naming the path.
// `parents: false`: a missing directory is an error (a path the user typed), not made.
export async function writeFileAtomic(file: string, text: string, o: { parents?: boolean } = {}): Promise<void> {
  await (await stageFile(file, text, o)).commit();
}

// The rename is durable once the directory is; a file system that cannot sync a directory (EINVAL) has no such need.
async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r').catch(() => undefined);
  await dh
    ?.sync()
    .catch(() => undefined)
    .finally(() => dh.close());
}

/** A file's next content, written and synced beside it before anything says it should replace the file: commit() puts
 *  it in place (first writing `head` over its first bytes, when given), abort() drops it. Once either has run, both do
 *  nothing. */
export interface StagedFile {
  commit(head?: string): Promise<void>;
  abort(): Promise<void>;
}

let staged = 0;

// writeFileAtomic in two steps, so that the writing can happen while something else decides (apply writes its records
// while nft commits, and puts them in place once the load is known to be done). A failure is a host-fault error naming
// the path.
export async function stageFile(file: string, text: string, o: { parents?: boolean } = {}): Promise<StagedFile> {
  const dir = dirname(file);
  if (o.parents !== false) await makeDirectory(dir, 'the directory');
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${++staged}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw hostFault('write', file, e);
  }
  let settled = false;
  return {
    async commit(head) {
      if (settled) return;
      settled = true;
      try {
        if (head !== undefined) {
          const fh = await open(tmp, 'r+');
          try {
            await fh.write(head, 0);
            await fh.sync();
          } finally {
            await fh.close();
          }
        }
        await rename(tmp, file);
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw hostFault('write', file, e);
      }
      await syncDirectory(dir);
    },
    async abort() {
      if (settled) return;
      settled = true;
      await rm(tmp, { force: true }).catch(() => undefined);
    },
  };
}

// Whether `file` can be written now: a small file staged beside it (written and synced, its directory made when
// missing), then dropped. Throws the host-fault error, naming `file`, that writing it would. For a command that must
// not change the kernel when it cannot then record what it did (nftlb health's state file).
export async function probeWritable(file: string): Promise<void> {
  await (await stageFile(file, 'x\n')).abort();
}

// What stageFile names a staged file: `.NAME.PID.N.tmp`.
const STAGED = /^\..+\.(\d+)\.\d+\.tmp$/;

// Removes the files staged in `dir` by processes that are gone (killed before they committed or dropped them: an apply
// killed while nft committed leaves megabytes of record and image in /run, memory, until a reboot). A staged file of a
// process that runs, or of a pid some other process has now, stays. Returns how many went.
export async function removeDeadStaged(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = STAGED.exec(name);
    if (m === null || (await processStart(Number(m[1]))) !== null) continue;
    await rm(join(dir, name), { force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}
