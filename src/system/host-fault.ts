import { NftlbError } from '../common/errors.js';

// What the host said about a file operation, in words an operator can act on: the path, the reason and the fix.
const REASONS: Record<string, { why: string; fix: string }> = {
  EROFS: { why: 'the file system is read-only', fix: 'use a writable directory (see --state-dir, --lock-file)' },
  ENOSPC: { why: 'no space left on the device', fix: 'free space on that file system' },
  EDQUOT: { why: 'the disk quota is exhausted', fix: 'free space or raise the quota' },
  ENOTDIR: { why: 'a part of the path is a file, not a directory', fix: 'remove or rename that file' },
  EEXIST: { why: 'a file is in the way of a directory', fix: 'remove or rename that file' },
  EISDIR: { why: 'it is a directory', fix: 'give the path of a file' },
  EACCES: { why: 'permission denied', fix: 'run as root, or use a directory this user may write' },
  EPERM: { why: 'operation not permitted', fix: 'run as root, or use a directory this user may write' },
  EMFILE: { why: 'too many open files', fix: 'raise the open file limit (ulimit -n)' },
  EIO: { why: 'an I/O error', fix: 'check the disk (dmesg)' },
};

// Turns a failed file operation into a host-fault error naming the path, the reason and the fix. An error without an
// errno code is not the host's doing: it is passed on as it is (a bug, reported as such).
export function hostFault(action: string, path: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  const r = REASONS[code] ?? { why: (e as Error).message, fix: 'check the path and the file system' };
  return new NftlbError('host-fault', `cannot ${action} ${path}: ${r.why} (${code}); ${r.fix}`, { cause: e });
}
