import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { systemPathDirs } from './env-path.js';
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

// mkdir -p, never with Node's recursive mkdir: that one loops for ever (Node 18 and 20) where a missing level cannot be
// made and still reads ENOENT (a lock file under /proc or /sys), and on a read-only file system it says ENOENT instead
// of EROFS. The directory itself is tried first (one mkdir, and a stat, when it is there); on ENOENT every level from
// the top is made in turn, and the first that cannot be made stops it with its own errno (EROFS, ENOTDIR, EACCES,
// ENOENT...). Throws a host-fault error naming `what` and the directory.
export async function makeDirectory(dir: string, what: string, mode = 0o755): Promise<void> {
  const full = resolve(dir);
  const level = async (path: string): Promise<void> => {
    try {
      await mkdir(path, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  };
  try {
    try {
      await level(full);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const parts = full.split(sep);
      for (let i = 2; i <= parts.length; i++) await level(parts.slice(0, i).join(sep));
    }
    // EEXIST says only that something is there: a file in the way is refused, as mkdir -p refuses it.
    if (!(await stat(full)).isDirectory())
      throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${full}'`), { code: 'EEXIST' });
  } catch (e) {
    throw hostFault(`create ${what}`, dir, e);
  }
}

/** What identifies a file's content without reading it: device, inode, size and the change times (ns). A write, a
 *  rename over it, chmod or touch changes the ctime, which no program can set back. */
export interface FileIdentity {
  readonly dev: string;
  readonly ino: string;
  readonly size: string;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
}

// The identity of a file, or null when it does not exist; `settled` says whether its last change is old enough (2 s) that
// a later change must show in the identity: the kernel stamps times from a coarse clock, so two writes of the same size
// within one tick can leave the same identity (git's "racy clean" problem), and such an identity proves nothing.
export async function fileIdentity(file: string): Promise<{ id: FileIdentity; settled: boolean } | null> {
  let st;
  try {
    st = await stat(file, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw hostFault('look at', file, e);
  }
  const now = BigInt(Date.now()) * 1_000_000n;
  const latest = st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs;
  return {
    id: {
      dev: String(st.dev),
      ino: String(st.ino),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
    },
    settled: now - latest > 2_000_000_000n,
  };
}

// Whether two identities are those of the same unchanged file.
export function sameIdentity(a: FileIdentity | null | undefined, b: FileIdentity | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

// sha256 (hex) of a file's content, or null when it does not exist.
export async function fileSha256(file: string): Promise<string | null> {
  try {
    return createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostFault('read', file, e);
  }
}

// The identity of the program a name runs (a path, or the first match in PATH, as execa finds it), or null when there
// is none: apply's no-op record notes the nft it loaded with, so another nft (or none) is never taken as the same.
export async function programIdentity(name: string, path = process.env['PATH'] ?? ''): Promise<FileIdentity | null> {
  const candidates = name.includes('/') ? [name] : systemPathDirs(path).map((d) => join(d, name));
  for (const c of candidates) {
    const id = await fileIdentity(c).catch(() => null);
    if (id !== null) return id.id;
  }
  return null;
}

// The first `bytes` bytes of a file as text ('' when it cannot be read: the caller judges what it finds).
export async function readFileHead(file: string, bytes: number): Promise<string> {
  try {
    const f = await open(file, 'r');
    try {
      const b = Buffer.alloc(bytes);
      const { bytesRead } = await f.read(b, 0, bytes, 0);
      return b.subarray(0, bytesRead).toString('utf8');
    } finally {
      await f.close();
    }
  } catch {
    return '';
  }
}
