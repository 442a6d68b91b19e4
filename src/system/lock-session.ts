import { dirname } from 'node:path';
import type { Interactive } from './executor.js';
import { makeDirectory } from './files.js';
import type { Host } from './host.js';
import { acquireLock, lockBusy } from './lock.js';

// The apply lock for a long-running process that takes it again and again (`nftlb health --watch` takes it for every
// sync, as every process that changes the table does; src/health/shared-state.ts). acquireLock starts a flock(1)
// process each time (~4 ms on a busy machine, most of a one-backend update's budget); this keeps one small program
// running instead, perl (perl-base is Essential in Debian, as util-linux is), which takes the very same lock for each
// request: it opens the lock file, flock(2)s it exclusively (LOCK_NB without a wait; with one, an alarm bounds the
// wait), answers, and closes the file on release. The same flock(2) on the same file as flock(1)'s, so it excludes
// `nftlb apply`, `nftlb backend` and every other holder alike; the file is opened on each request, so a lock file
// that was removed and made again is the one locked; and when nftlb dies, perl reads the end of its input and exits,
// and the kernel drops the lock. Anything that does not go as planned (no perl, no answer, an odd one, an error
// opening the file) falls back to acquireLock, whose errors are the ones nftlb reports.

/** Takes the apply lock: resolves with its release function, throws lock-busy as acquireLock does. */
export interface LockSession {
  acquire(waitSeconds: number): Promise<() => Promise<void>>;
  /** Stops the holder (releasing the lock if it is held). */
  close(): Promise<void>;
}

const PROGRAM = [
  'use strict; use Fcntl qw(:flock O_RDONLY O_CREAT); $| = 1; my ($file, $fh) = ($ARGV[0]);',
  'while (my $l = <STDIN>) {',
  ' if ($l =~ /^lock (\\d+)$/) { my $w = $1;',
  '  unless (sysopen($fh, $file, O_RDONLY | O_CREAT, 0666)) { print "error $!\\n"; next }',
  '  my $ok = $w == 0 ? flock($fh, LOCK_EX | LOCK_NB)',
  '   : eval { local $SIG{ALRM} = sub { die "timeout\\n" }; alarm $w; my $r = flock($fh, LOCK_EX); alarm 0; $r };',
  '  if ($ok) { print "locked\\n" } else { close $fh; undef $fh; print "busy\\n" } }',
  ' elsif ($l =~ /^unlock$/) { if (defined $fh) { close $fh; undef $fh } print "unlocked\\n" } }',
].join('\n');

// A lock session over the host's lock file; acquireLock for each request when the executor cannot keep a program.
export function lockSession(host: Host): LockSession {
  const exec = host.exec;
  let proc: Interactive | undefined;
  let alive = false;
  let broken = exec.interact === undefined;
  let answer: ((line: string | null) => void) | undefined;
  const onLine = (line: string, from: 'stdout' | 'stderr'): void => {
    if (from !== 'stdout') return;
    const a = answer;
    answer = undefined;
    a?.(line);
  };
  const start = async (): Promise<Interactive | null> => {
    if (proc !== undefined && alive) return proc;
    if (broken) return null;
    try {
      await makeDirectory(dirname(host.lockFile), 'the directory of the lock file');
      const p = await exec.interact!(host.perl, ['-e', PROGRAM, host.lockFile], onLine);
      proc = p;
      alive = true;
      void p.exited.then(() => {
        if (proc === p) alive = false;
        answer?.(null);
        answer = undefined;
      });
      return p;
    } catch {
      // No perl (or no way to start it): flock(1) for every request from now on.
      broken = true;
      return null;
    }
  };
  const ask = (p: Interactive, line: string, timeoutMs: number): Promise<string | null> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        answer = undefined;
        resolve(null);
      }, timeoutMs);
      answer = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
      p.write(`${line}\n`);
    });
  // Stops a holder that answered oddly or not at all: whatever it held goes with it.
  const drop = async (p: Interactive): Promise<void> => {
    alive = false;
    proc = undefined;
    await p.end().catch(() => undefined);
  };
  const acquire = async (waitSeconds: number): Promise<() => Promise<void>> => {
    const p = await start();
    if (p === null) return acquireLock(host, waitSeconds);
    const reply = await ask(p, `lock ${waitSeconds}`, (waitSeconds + 10) * 1000);
    if (reply === 'busy') throw lockBusy(host.lockFile, waitSeconds);
    if (reply !== 'locked') {
      await drop(p);
      return acquireLock(host, waitSeconds);
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if ((await ask(p, 'unlock', 10_000)) !== 'unlocked') await drop(p);
    };
  };
  let queue: Promise<void> = Promise.resolve();
  return {
    // One holder at a time within this process: a second acquire waits for the first one's release (two requests of
    // the same process would be two open files, and flock(2) makes the second wait for the first).
    acquire: (waitSeconds) => {
      const prev = queue;
      let done: () => void = () => undefined;
      queue = new Promise<void>((r) => (done = r));
      return prev
        .then(() => acquire(waitSeconds))
        .then(
          (release) => async () => {
            try {
              await release();
            } finally {
              done();
            }
          },
          (e: unknown) => {
            done();
            throw e;
          },
        );
    },
    close: async () => {
      await queue;
      if (proc !== undefined && alive) await drop(proc);
    },
  };
}
