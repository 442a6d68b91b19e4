import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NftlbError } from '../common/errors.js';
import type { Executor } from './executor.js';

/** Default lock file of `nftlb apply` (and remove); override with --lock-file or $NFTLB_LOCK. */
export const DEFAULT_LOCK_FILE = '/run/nftlb/apply.lock';

/** flock(1) exit status nftlb asks for (-E) when the lock is busy; distinct from any status of `cat`. */
const BUSY_STATUS = 75;
const HELLO = 'nftlb-locked';

// The lock file to use: the option, else $NFTLB_LOCK, else the default.
export function lockFileFor(option: string | undefined, env: NodeJS.ProcessEnv): string {
  return option ?? (env['NFTLB_LOCK'] || DEFAULT_LOCK_FILE);
}

// Takes the apply lock and resolves with its release function; throws lock-busy when another nftlb holds it for longer
// than waitSeconds (0: do not wait).
//
// Why flock(1) (util-linux, Essential in Debian) rather than an O_EXCL pid file: the kernel drops an flock when its
// holder dies, so a crashed or killed apply can never leave a stale lock, and no pid-reuse or stale-breaking race
// exists. Node has no flock(2), so `flock LOCKFILE cat` holds it for us: cat starts only once the lock is ours, echoes
// a hello line to prove it, and exits (releasing the lock) when we close its stdin — or when nftlb dies and the pipe
// closes.
export async function acquireLock(exec: Executor, file: string, waitSeconds: number): Promise<() => Promise<void>> {
  if (exec.start === undefined) throw new NftlbError('internal', 'this executor cannot hold a lock');
  await mkdir(dirname(file), { recursive: true, mode: 0o755 }).catch((cause: unknown) => {
    throw new NftlbError('internal', `cannot create the directory of lock file ${file}`, { cause });
  });
  const wait = waitSeconds > 0 ? ['-w', String(waitSeconds)] : ['-n'];
  let held;
  try {
    held = await exec.start('flock', [...wait, '-E', String(BUSY_STATUS), file, 'cat']);
  } catch (e) {
    if (e instanceof NftlbError && e.code === 'nft-missing') {
      throw new NftlbError(
        'nft-missing',
        'flock (util-linux) is not installed or not on PATH; nftlb needs it for its lock',
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
  if (r.exitCode === BUSY_STATUS) {
    const how = waitSeconds > 0 ? `after waiting ${waitSeconds} s` : '(use --wait SECONDS to wait for it)';
    throw new NftlbError('lock-busy', `another nftlb apply holds ${file} ${how}`);
  }
  throw new NftlbError('internal', `cannot take lock ${file}: flock exited with ${r.exitCode}`, { detail: r.stderr });
}
