import { dirname } from 'node:path';
import { NftlbError } from '../common/errors.js';
import { makeDirectory } from './files.js';
import type { Host } from './host.js';

/** flock(1) exit status nftlb asks for (-E) when the lock is busy; distinct from any status of `cat`. */
const BUSY_STATUS = 75;
const HELLO = 'nftlb-locked';

// The error of a lock another nftlb held for longer than waitSeconds.
export function lockBusy(file: string, waitSeconds: number): NftlbError {
  const how = waitSeconds > 0 ? `after waiting ${waitSeconds} s` : '(use --wait SECONDS to wait for it)';
  return new NftlbError('lock-busy', `another nftlb apply holds ${file} ${how}`);
}

// Takes the apply lock and resolves with its release function; throws lock-busy when another nftlb holds it for longer
// than waitSeconds (0: do not wait).
//
// Why flock(1) (util-linux, Essential in Debian) rather than an O_EXCL pid file: the kernel drops an flock when its
// holder dies, so a crashed or killed apply can never leave a stale lock, and no pid-reuse or stale-breaking race
// exists. Node has no flock(2), so `flock LOCKFILE cat` holds it for us: cat starts only once the lock is ours, echoes
// a hello line to prove it, and exits (releasing the lock) when we close its stdin — or when nftlb dies and the pipe
// closes.
export async function acquireLock(host: Host, waitSeconds: number): Promise<() => Promise<void>> {
  const { exec, lockFile: file } = host;
  if (exec.start === undefined) throw new NftlbError('internal', 'this executor cannot hold a lock');
  await makeDirectory(dirname(file), 'the directory of the lock file');
  const wait = waitSeconds > 0 ? ['-w', String(waitSeconds)] : ['-n'];
  let held;
  try {
    held = await exec.start(host.flock, [...wait, '-E', String(BUSY_STATUS), file, 'cat']);
  } catch (e) {
    if (e instanceof NftlbError && e.code === 'tool-missing') {
      throw new NftlbError(
        'tool-missing',
        `${host.flock} (util-linux) is not installed or not on PATH; nftlb needs it for its lock`,
        { cause: e },
      );
    }
    throw e;
  }
  held.write(`${HELLO}\n`);
  const line = await held.firstLine((waitSeconds + 10) * 1000);
  if (line === HELLO) {
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await held.end();
    };
  }
  const r = await held.end();
  if (r.exitCode === BUSY_STATUS) throw lockBusy(file, waitSeconds);
  // flock says "failed to execute cat" (exit 69) when it cannot run its command, and gives its reason (exit 1) when it
  // cannot open the lock file.
  const why = r.stderr.trim();
  if (/failed to execute/.test(why))
    throw new NftlbError('tool-missing', 'cat (coreutils) is not installed or not on PATH; the lock needs it', {
      detail: why,
    });
  if (/Read-only|No space|Permission denied|Not a directory|Is a directory/i.test(why))
    throw new NftlbError('host-fault', `cannot open lock file ${file}: ${why}`, {
      detail: 'use a writable lock file (--lock-file, $NFTLB_LOCK)',
    });
  // Any other reason flock gives for the lock file (ELOOP, EIO, a file system without flock...), or a program named as
  // flock that is not flock (it ended without running cat): the host's doing, not a bug of nftlb's.
  throw new NftlbError(
    'host-fault',
    `cannot take lock ${file}: ${host.flock} exited with ${r.exitCode}${why === '' ? '' : `: ${why}`}`,
    {
      detail:
        'check the lock file (--lock-file, $NFTLB_LOCK) and the flock program ($NFTLB_FLOCK, util-linux flock(1))',
    },
  );
}
