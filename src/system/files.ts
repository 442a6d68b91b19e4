import { mkdir, readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { hostFault } from './host-fault.js';

// A small text file nftlb keeps (state, records): its content, or null when it does not exist. Any other failure is a
// host-fault error naming the path (a state directory that is a file, permissions, I/O).
export async function readStateFile(file: string, what: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostFault(`read ${what}`, file, e);
  }
}

// mkdir -p that reports the real reason: Node's recursive mkdir says ENOENT when a missing parent cannot be made on a
// read-only file system, so on failure the path is made again one level at a time, which fails with the errno that
// stops it (EROFS, ENOTDIR, EACCES, ...). Throws a host-fault error naming `what` and the directory.
export async function makeDirectory(dir: string, what: string, mode = 0o755): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (first) {
    let cause: unknown = first;
    const parts = resolve(dir).split(sep);
    for (let i = 2; i <= parts.length; i++) {
      try {
        await mkdir(parts.slice(0, i).join(sep), { mode });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        cause = e;
        break;
      }
    }
    throw hostFault(`create ${what}`, dir, cause);
  }
}
