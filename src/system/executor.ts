import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { NftlbError } from '../common/errors.js';

// The result of one external command.
export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
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
   *  NftlbError 'nft-missing' when the program is not installed. */
  run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult>;
  /** Starts a long-running program with piped stdin/stdout; rejects with 'nft-missing' when it is not installed.
   *  Optional so that executors written before it still type-check; `nftlb apply` needs it for its lock. */
  start?(cmd: string, args: readonly string[]): Promise<Started>;
  /** Starts a long-running program and hands each line it prints to onLine (stdout and stderr, said which); rejects
   *  with 'nft-missing' when it is not installed. `nftlb health --watch` follows conntrack events with it. */
  stream?(
    cmd: string,
    args: readonly string[],
    onLine: (line: string, from: 'stdout' | 'stderr') => void,
  ): Promise<LineStream>;
}

/** A program started by Executor.stream. */
export interface LineStream {
  /** Resolves once the program has exited (by itself or after end()); stderr holds its last 4 KiB of it. */
  readonly exited: Promise<ExecResult>;
  /** Stops the program (SIGTERM) and resolves once it has exited. */
  end(): Promise<ExecResult>;
}

// The real executor: execa, script on stdin, no shell.
export function systemExecutor(callerEnv: NodeJS.ProcessEnv = process.env): Executor {
  const env = withoutNodeModulesPath(callerEnv);
  return {
    async run(cmd, args, input) {
      const r = await execa(cmd, [...args], {
        input: input ?? '',
        reject: false,
        env,
        extendEnv: false,
        stripFinalNewline: false,
      });
      if ((r as { code?: string }).code === 'ENOENT') {
        throw new NftlbError('nft-missing', `${cmd} is not installed or not on PATH`);
      }
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    },
    start: (cmd, args) => startProcess(cmd, args, env),
    stream: (cmd, args, onLine) => streamProcess(cmd, args, env, onLine),
  };
}

function streamProcess(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onLine: (line: string, from: 'stdout' | 'stderr') => void,
): Promise<LineStream> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (l) => onLine(l, 'stdout'));
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => {
      stderr = `${stderr}${l}\n`.slice(-4096);
      onLine(l, 'stderr');
    });
    const exited = new Promise<ExecResult>((done) => {
      child.on('close', (code, signal) => done({ exitCode: code ?? (signal ? 128 : 1), stdout: '', stderr }));
    });
    child.on('error', (e: NodeJS.ErrnoException) => reject(startFailure(cmd, e)));
    child.on('spawn', () =>
      resolve({
        exited,
        end: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      }),
    );
  });
}

// Why a program could not be started: not installed ('nft-missing', as run() reports it) or another spawn error.
function startFailure(cmd: string, e: NodeJS.ErrnoException): NftlbError {
  return e.code === 'ENOENT'
    ? new NftlbError('nft-missing', `${cmd} is not installed or not on PATH`, { cause: e })
    : new NftlbError('internal', `cannot start ${cmd}: ${e.message}`, { cause: e });
}

function startProcess(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let exitCode: number | null = null;
    const waiters: (() => void)[] = [];
    const wake = (): void => void waiters.splice(0).forEach((w) => w());
    child.stdout.setEncoding('utf8').on('data', (d: string) => ((stdout += d), wake()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // EPIPE when the program has already exited
    const exited = new Promise<ExecResult>((done) => {
      child.on('close', (code, signal) => {
        exitCode = code ?? (signal ? 128 : 1);
        wake();
        done({ exitCode, stdout, stderr });
      });
    });
    child.on('error', (e: NodeJS.ErrnoException) => reject(startFailure(cmd, e)));
    child.on('spawn', () =>
      resolve({
        write: (text) => void child.stdin.write(text),
        firstLine: (timeoutMs) =>
          new Promise((done) => {
            const check = (): boolean => {
              const nl = stdout.indexOf('\n');
              if (nl >= 0) return (done(stdout.slice(0, nl)), true);
              if (exitCode !== null) return (done(null), true);
              return false;
            };
            if (check()) return;
            const timer = setTimeout(() => done(null), timeoutMs);
            const again = (): void => {
              if (check()) clearTimeout(timer);
              else waiters.push(again);
            };
            waiters.push(again);
          }),
        end: () => {
          child.stdin.end();
          return exited;
        },
      }),
    );
  });
}

// npm and npx put node_modules/.bin first on PATH, and there `nft` is @vercel/nft (a file tracer that exits 0 and loads
// nothing). nftlb only ever means the system's tools, so those PATH entries are dropped.
export function withoutNodeModulesPath(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = (env.PATH ?? '').split(':').filter((d) => d !== '' && !/(^|\/)node_modules(\/|$)/.test(d));
  return { ...env, PATH: path.join(':') };
}
