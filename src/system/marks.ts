import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirectory } from './files.js';
import { hostFault } from './host-fault.js';

// Small files that coordinate nftlb processes, and what tells one process's writes from another's.

// Writes a mark: a small file whose presence says something to other processes. Not synced to disk: after a crash a
// mark may be gone or stale, and its readers treat both as safe (see pendingMark in src/health/state-file.ts).
export async function writeMark(file: string, text: string): Promise<void> {
  await makeDirectory(dirname(file), 'the directory');
  try {
    await writeFile(file, text);
  } catch (e) {
    throw hostFault('write', file, e);
  }
}

// The text of a mark, or null when there is none.
export async function readMark(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostFault('read', file, e);
  }
}

// Removes a mark (none is fine).
export async function removeMark(file: string): Promise<void> {
  try {
    await rm(file, { force: true });
  } catch (e) {
    throw hostFault('remove', file, e);
  }
}

// A stamp of a file's current version: it changes with every atomic write (a rename brings a new inode), so a process
// that remembers the stamp of its own last write knows whether another process wrote the file since. null: no file.
export async function fileStamp(file: string): Promise<string | null> {
  try {
    const st = await stat(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostFault('read', file, e);
  }
}
