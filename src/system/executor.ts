import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { NftlbError } from '../common/errors.js';
import { systemPathDirs, withoutNodeModulesPath } from './env-path.js';

export { withoutNodeModulesPath };

// The result of one external command.
export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How run() carries a program's output; what it returns is the same either way (an executor may ignore these). */
export interface RunOptions {
  /** For a program that prints more than a pipe holds (64 KiB) while node may be busy: its stdout goes to an unlinked
   *  temporary file, not to a pipe node must drain, so the program finishes on its own while node works on something
   *  else (apply lists nftlb's tables while it plans). */
  readonly detached?: boolean;
}

// A program started by Executor.start that keeps running until end(); used to hold a flock(1) lock.
export interface Started {
  /** Writes to its stdin. */
  write(text: string): void;
  /** The first stdout line, or null when the process exits (or timeoutMs passes) before printing one. */
  firstLine(timeoutMs: number): Promise<string | null>;
  /** Closes stdin and resolves once the process has exited. */
  end(): Promise<ExecResult>;
}

// Runs external tools (nft, conntrack, iptables-restore). The only way nftlb touches the system; tests inject a fake.
export interface Executor {
  /** Runs `cmd args...` with `input` on stdin; resolves with a non-zero exitCode instead of throwing; rejects with
   *  NftlbError 'tool-missing' when the program is not installed. */
  run(cmd: string, args: readonly string[], input?: string, o?: RunOptions): Promise<ExecResult>;
  /** Runs `cmd ...args(input)` with `pieces` written to the file `input` as they are produced (a generator that
   *  renders them): a named pipe, which the program reads as the pieces come, so it reads the first while the rest
   *  are made (or `-`, its stdin, where no named pipe can be made). `afterInput` runs once all is written, while the
   *  program works on it. As run() otherwise. Optional: without it, callers join the pieces and call run() with `-`. */
  feed?(
    cmd: string,
    args: (input: string) => readonly string[],
    pieces: Iterable<string>,
    afterInput?: () => void,
  ): Promise<ExecResult>;
  /** Starts a long-running program that reads lines on stdin and hands each line it prints to onLine (stdout and
   *  stderr, said which); it dies with node. A program that is not installed rejects with 'tool-missing', or (started
   *  through setpriv) exits at once with 127. `nftlb health --watch` keeps an `nft -i` session with it. Optional:
   *  without it, every transaction is an `nft -f`. */
  interact?(
    cmd: string,
    args: readonly string[],
    onLine: (line: string, from: 'stdout' | 'stderr') => void,
  ): Promise<Interactive>;
  /** Starts a long-running program with piped stdin/stdout; rejects with 'tool-missing' when it is not installed.
   *  Optional so that executors written before it still type-check; `nftlb apply` needs it for its lock. */
  start?(cmd: string, args: readonly string[]): Promise<Started>;
  /** Starts a long-running program and hands each line it prints to onLine (stdout and stderr, said which); rejects
   *  with 'tool-missing' when it is not installed. `nftlb health --watch` follows conntrack events with it. */
  stream?(
    cmd: string,
    args: readonly string[],
    onLine: (line: string, from: 'stdout' | 'stderr') => void,
  ): Promise<LineStream>;
}

/** A program started by Executor.interact. */
export interface Interactive {
  /** Writes to its stdin. */
  write(text: string): void;
  /** Resolves once the program has exited. */
  readonly exited: Promise<number>;
  /** Closes its stdin, stops it (SIGTERM) and resolves once it has exited. */
  end(): Promise<number>;
}

/** A program started by Executor.stream. */
export interface LineStream {
  /** Resolves once the program has exited (by itself or after end()); stderr holds its last 4 KiB of it. */
  readonly exited: Promise<ExecResult>;
  /** Stops the program (SIGTERM) and resolves once it has exited. */
  end(): Promise<ExecResult>;
}

// The real executor: execa for every program, script on stdin, no shell.
export function systemExecutor(callerEnv: NodeJS.ProcessEnv = process.env): Executor {
  const env = withoutNodeModulesPath(callerEnv);
  const guard = guarded(env);
  return {
    async run(cmd, args, input, o) {
      if (o?.detached === true) {
        const r = await runDetachedProcess(cmd, args, env, input ?? '');
        // Without its temporary file ($TMPDIR missing, a file, or not writable) the run goes through a pipe.
        if (r !== null) return r;
      }
      // A program given input (a script for nft) dies with node, which may be killed before it has written all of it.
      const [file, argv] = input === undefined || input === '' ? [cmd, [...args]] : guard(cmd, args);
      const r = await execa(file, argv, {
        input: input ?? '',
        reject: false,
        env,
        extendEnv: false,
        stripFinalNewline: false,
      });
      const stderr = String(r.stderr ?? '');
      if (notInstalled(cmd, r.code, r.exitCode, stderr))
        throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr };
    },
    feed: (cmd, args, pieces, afterInput) => feedProcess(cmd, args, env, guard, pieces, afterInput),
    start: (cmd, args) => startProcess(cmd, args, env),
    interact: (cmd, args, onLine) => interactProcess(guard(cmd, args), env, onLine),
    stream: (cmd, args, onLine) => streamProcess(cmd, args, env, onLine),
  };
}

// run() with stdout on a file descriptor of an unlinked file in a private temporary directory: the kernel writes the
// output there, without node's event loop; read once the program has exited. null when that file cannot be made (the
// program has not been started then).
async function runDetachedProcess(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input: string,
): Promise<ExecResult | null> {
  let dir: string | undefined;
  let file: FileHandle;
  try {
    dir = await mkdtemp(join(tmpdir(), 'nftlb-out-'));
    file = await open(join(dir, 'stdout'), 'w+', 0o600);
  } catch {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return null;
  }
  try {
    await rm(dir, { recursive: true, force: true });
    const r = await execa(cmd, [...args], {
      input,
      // execa hands a file descriptor to the child as it is (its types list only 3 to 9).
      stdout: file.fd as 3,
      reject: false,
      env,
      extendEnv: false,
      stripFinalNewline: false,
    });
    if (r.code === 'ENOENT') throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    const { size } = await file.stat();
    const out = Buffer.alloc(size);
    for (let at = 0; at < size;) {
      const { bytesRead } = await file.read(out, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return { exitCode: r.exitCode ?? 1, stdout: out.toString('utf8'), stderr: String(r.stderr ?? '') };
  } finally {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// Writes the pieces, as they come, to a named pipe the program reads as its input file (`args(path)`), in a private
// temporary directory (mode 0700) removed as soon as the program has opened it. Not its stdin: nft reads all of its standard input before it
// parses a line, but it parses a file as it reads it, so nft parses the first pieces while node renders the rest.
// Between two pieces the event loop runs (setImmediate) so the writes proceed; past 16 MiB buffered it waits for them
// (or for the program to end). `afterInput` runs once the pipe is closed (the program has all of its input), while the
// program works on it. A generator that throws kills the child before the pipe closes, so it never sees the end of
// its input (nft commits nothing then). Where no named pipe can be made, the pieces go to its stdin (`args('-')`).
async function feedProcess(
  cmd: string,
  args: (input: string) => readonly string[],
  env: NodeJS.ProcessEnv,
  guard: Guard,
  pieces: Iterable<string>,
  afterInput: () => void = () => undefined,
): Promise<ExecResult> {
  let dir = await mkdtemp(join(tmpdir(), 'nftlb-feed-')).catch(() => null);
  try {
    const fifo = dir === null ? null : join(dir, 'script.nft');
    const made =
      fifo === null
        ? null
        : await execa('mkfifo', ['-m', '600', fifo], { env, extendEnv: false, reject: false, stdin: 'ignore' });
    const piped = made?.exitCode === 0;
    const child = execa(...guard(cmd, args(piped ? fifo! : '-')), {
      env,
      extendEnv: false,
      stdin: piped ? 'ignore' : 'pipe',
      reject: false,
      stripFinalNewline: false,
    });
    let ended = false;
    const done = child.then((r) => {
      ended = true;
      return r;
    });
    let input: Writable | null;
    try {
      input = piped ? await openedForWriting(fifo!, done) : child.stdin!;
    } catch (e) {
      // The pipe could not be opened: the program, waiting for a writer, would wait for ever.
      child.kill('SIGKILL');
      await done;
      throw e;
    }
    // Gone once the program has it open: nft opens its input file again to quote the line of an error, which would
    // wait for ever for another writer; without the file it prints the error without the line (explainNftError quotes
    // it from the script).
    if (dir !== null) {
      await rm(dir, { recursive: true, force: true });
      dir = null;
    }
    if (input !== null) {
      input.on('error', () => undefined); // EPIPE: the program stopped reading (it failed; its exit says why)
      try {
        for (const piece of pieces) {
          if (ended || input.destroyed) break;
          input.write(piece);
          if (input.writableLength > 1 << 24) await Promise.race([once(input, 'drain').catch(() => undefined), done]);
          else await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (e) {
        child.kill('SIGKILL');
        await done;
        input.destroy();
        throw e;
      }
      input.end();
      // The program has its whole input once the pipe is closed (or it has ended).
      await Promise.race([once(input, 'close').catch(() => undefined), done]);
      try {
        afterInput();
      } catch {
        // The caller's own work while the program runs; the program's outcome is what this reports.
      }
    }
    const r = await done;
    const stderr = String(r.stderr ?? '');
    if (notInstalled(cmd, r.code, r.exitCode, stderr))
      throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    if (r.exitCode === undefined && r.signal === undefined)
      throw new NftlbError('host-fault', `cannot start ${cmd}: ${r.shortMessage}`, { cause: r });
    // A program that ended without opening its input file read none of it, whatever its status says (not nft, or a
    // wrapper that does not pass `-f FILE` on): a failure, never a load.
    if (input === null && r.exitCode === 0)
      return {
        exitCode: 1,
        stdout: String(r.stdout ?? ''),
        stderr: `${stderr}${stderr === '' || stderr.endsWith('\n') ? '' : '\n'}${[cmd, ...args('FILE')].join(' ')} exited 0 without opening FILE: it read none of the script\n`,
      };
    return { exitCode: r.exitCode ?? 128, stdout: String(r.stdout ?? ''), stderr };
  } finally {
    // Not removed yet when something failed before the program had the pipe open.
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  }
}

// Whether a run's outcome says its program is not there: the spawn's ENOENT, or setpriv's (guarded).
function notInstalled(cmd: string, code: string | undefined, exitCode: number | undefined, stderr: string): boolean {
  return code === 'ENOENT' || (exitCode === 127 && stderr.startsWith(`setpriv: failed to execute ${cmd}: `));
}

/** A program and its arguments as they are started: under setpriv when there is one. */
type Guard = (cmd: string, argv: readonly string[]) => [string, string[]];

// Programs that node writes input to run under `setpriv --pdeathsig SIGKILL` (util-linux, Essential on Debian), which
// makes the kernel kill them when node dies. A node killed while it writes a script would otherwise close the pipe,
// and nft would take the end of what it had for the end of the script: a script cut between two tables is valid, and
// would be committed; nft -i would take a last line cut short for a whole one. setpriv is looked up on the executor's
// PATH once; without it, programs run unguarded.
function guarded(env: NodeJS.ProcessEnv): Guard {
  let setpriv: string | null | undefined;
  return (cmd, argv) => {
    setpriv ??= onPath('setpriv', env['PATH']);
    return setpriv === null ? [cmd, [...argv]] : [setpriv, ['--pdeathsig', 'SIGKILL', '--', cmd, ...argv]];
  };
}

// The executable `name` in a directory of `path` (systemPathDirs), or null.
function onPath(name: string, path: string | undefined): string | null {
  for (const dir of systemPathDirs(path)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not there
    }
  }
  return null;
}

// The named pipe opened for writing, as a stream; null when the program ended first. Opening a named pipe for writing
// waits (in libuv's thread pool) until a reader opens it: a program that ends without opening it (not installed, its
// arguments refused) would leave that open waiting for ever, so a reader of node's own then lets it complete.
async function openedForWriting(fifo: string, exited: Promise<unknown>): Promise<Writable | null> {
  const opening = open(fifo, 'w');
  const first = await Promise.race([opening, exited.then(() => null)]);
  if (first !== null) return first.createWriteStream();
  const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  await (await opening).close();
  await reader.close();
  return null;
}

// A long-running execa child: resolves once it has spawned (rejects when it cannot), with its exit as a promise.
function spawned(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdin: 'pipe' | 'ignore',
): Promise<{ child: ResultPromise; exited: Promise<number> }> {
  const child = execa(cmd, [...args], {
    env,
    extendEnv: false,
    stdin,
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
  });
  const exited = child.then((r) => r.exitCode ?? (r.signal !== undefined ? 128 : 1));
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve({ child, exited }));
    child.once('error', (e: NodeJS.ErrnoException) => reject(startFailure(cmd, e)));
    // A spawn failure ends the execa promise with the error too; the 'error' event above reports it.
    void exited.then(() => undefined);
  });
}

function streamProcess(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onLine: (line: string, from: 'stdout' | 'stderr') => void,
): Promise<LineStream> {
  return spawned(cmd, args, env, 'ignore').then(({ child, exited }) => {
    let stderr = '';
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (l) => onLine(l, 'stdout'));
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (l) => {
      stderr = `${stderr}${l}\n`.slice(-4096);
      onLine(l, 'stderr');
    });
    const done = exited.then((exitCode): ExecResult => ({ exitCode, stdout: '', stderr }));
    return {
      exited: done,
      end: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return done;
      },
    };
  });
}

// The program is started guarded (see guarded): a session dies with node.
function interactProcess(
  [cmd, args]: [string, string[]],
  env: NodeJS.ProcessEnv,
  onLine: (line: string, from: 'stdout' | 'stderr') => void,
): Promise<Interactive> {
  return spawned(cmd, args, env, 'pipe').then(({ child, exited }) => {
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (l) => onLine(l, 'stdout'));
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (l) => onLine(l, 'stderr'));
    child.stdin!.on('error', () => undefined); // EPIPE once it has exited; its exit says why
    return {
      write: (text) => void child.stdin!.write(text),
      exited,
      end: () => {
        child.stdin!.end();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return exited;
      },
    };
  });
}

// Why a program could not be started: not installed ('tool-missing', as run() reports it) or another spawn error.
function startFailure(cmd: string, e: NodeJS.ErrnoException): NftlbError {
  return e.code === 'ENOENT'
    ? new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`, { cause: e })
    : new NftlbError('host-fault', `cannot start ${cmd}: ${e.message}`, { cause: e });
}

function startProcess(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Started> {
  return spawned(cmd, args, env, 'pipe').then(({ child, exited }) => {
    let stdout = '';
    let stderr = '';
    let exitCode: number | null = null;
    const waiters: (() => void)[] = [];
    const wake = (): void => void waiters.splice(0).forEach((w) => w());
    child.stdout!.setEncoding('utf8').on('data', (d: string) => ((stdout += d), wake()));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin!.on('error', () => undefined); // EPIPE when the program has already exited
    const done = exited.then((code): ExecResult => {
      exitCode = code;
      wake();
      return { exitCode: code, stdout, stderr };
    });
    return {
      write: (text) => void child.stdin!.write(text),
      firstLine: (timeoutMs) =>
        new Promise<string | null>((resolve) => {
          const check = (): boolean => {
            const nl = stdout.indexOf('\n');
            if (nl >= 0) return (resolve(stdout.slice(0, nl)), true);
            if (exitCode !== null) return (resolve(null), true);
            return false;
          };
          if (check()) return;
          const timer = setTimeout(() => resolve(null), timeoutMs);
          const again = (): void => {
            if (check()) clearTimeout(timer);
            else waiters.push(again);
          };
          waiters.push(again);
        }),
      end: () => {
        child.stdin!.end();
        return done;
      },
    };
  });
}

/** How a check program ended: exit 0, another exit status, a signal, a timeout, or not started. */
export interface CheckRun {
  readonly ok: boolean;
  /** exit 0, `exit 2: <first stderr line>`, `timeout after N ms`, `prog: not found`. */
  readonly reason: string;
  /** The program was ended from outside (a signal nftlb never sends it: SIGTERM to the whole unit when systemd stops
   *  nftlb health): it said nothing of the backend, so there is no verdict. */
  readonly inconclusive?: true;
}

// Signals that end a check program from outside: nftlb itself ends one only with SIGKILL, at its timeout.
const OUTSIDE_SIGNALS: ReadonlySet<string> = new Set(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']);

// Runs a health check program (no shell) with extra environment variables; ok when it exits 0. It runs in its own
// process group, and the whole group is killed at the timeout or when the program exits, so a shell script's
// children cannot keep the check alive.
export async function runCheckProgram(
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<CheckRun> {
  const [file, ...args] = command;
  if (file === undefined) return { ok: false, reason: 'empty command' };
  const child = execa(file, args, {
    env,
    detached: true,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    reject: false,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 4096,
  });
  const killGroup = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  child.once('exit', killGroup);
  const r = await child;
  killGroup();
  if (r.timedOut) return { ok: false, reason: `timeout after ${timeoutMs} ms` };
  if (r.code === 'ENOENT') return { ok: false, reason: `${file}: not found` };
  if (r.exitCode === 0) return { ok: true, reason: 'exit 0' };
  if (r.exitCode === undefined && r.signal !== undefined && OUTSIDE_SIGNALS.has(r.signal))
    return { ok: false, reason: `ended by ${r.signal} from outside nftlb: no verdict`, inconclusive: true };
  const why = r.exitCode === undefined ? `signal ${r.signal ?? '?'}` : `exit ${r.exitCode}`;
  const said =
    String(r.stderr ?? '')
      .trim()
      .split('\n')[0]
      ?.slice(0, 120) ?? '';
  return { ok: false, reason: said === '' ? why : `${why}: ${said}` };
}
