import { Option } from 'commander';
import { basename } from 'node:path';
import type { Executor } from '../system/executor.js';
import { DEFAULT_CONFIG_PATH, resolveHost, type Host, type HostOptions } from '../system/host.js';
import type { Io } from './io.js';
import { Progress } from './progress.js';

// What a command needs from the outside world; tests substitute every part.
export interface CommandContext {
  readonly io: Io;
  /** Records the exit code; main() exits with it once the command has finished. */
  exit(code: number): void;
  readonly env: NodeJS.ProcessEnv;
  /** The argv that runs nftlb itself (node and the script), when it runs as a program: health's /metrics runs
   *  `nftlb status` with it. Undefined in-process (tests). */
  readonly self?: readonly string[];
  /** The config file whose no-op record main's fast path already found does not prove a no-op (src/cli/fast-apply.ts):
   *  apply of that file does not ask the record again before loading the config. */
  readonly noopMissed?: string;
}

// The -c/--config option shared by every command that reads the config.
export function configOption(): Option {
  return new Option('-c, --config <file>', 'config file (.json parses as JSON, anything else as YAML)').default(
    DEFAULT_CONFIG_PATH,
  );
}

// The host of one command run: its executor, and the programs and files from its options and the environment.
export function hostOf(ctx: CommandContext, exec: Executor, o: HostOptions = {}): Host {
  return resolveHost(exec, ctx.env, o);
}

// -q and -v, for the commands where they mean something (each command's help and README say what).
export function verbosityOptions(): Option[] {
  return [
    new Option('-q, --quiet', 'print nothing on stderr but errors (no notices, warnings or progress line)').conflicts(
      'verbose',
    ),
    new Option('-v, --verbose', 'also print on stderr what was done, step by step, with counts and times'),
  ];
}

/** The output side of one command run: stdout, stderr filtered by -q/-v, and the progress line. */
export interface Output {
  /** The run's streams; stderr erases the progress line before it writes. */
  readonly io: Io;
  readonly quiet: boolean;
  readonly verbose: boolean;
  /** What a command says on stderr when it did something (a load, a removal); nothing with -q. */
  note(text: string): void;
  /** Only with -v: a step and its figures, as `nftlb: ...` lines. */
  detail(text: string): void;
  /** The progress line: drawn only on a terminal, and neither with --json nor with -q. */
  readonly progress: Progress;
}

// The output of a command run from its --json, -q and -v.
export function outputOf(ctx: CommandContext, o: { json?: boolean; quiet?: boolean; verbose?: boolean }): Output {
  const quiet = o.quiet === true;
  const verbose = o.verbose === true && !quiet;
  const progress = new Progress(ctx.io, ctx.io.errIsTTY === true && o.json !== true && !quiet);
  const io = progress.wrap(ctx.io);
  return {
    io,
    quiet,
    verbose,
    note: (t) => void (quiet ? undefined : io.err(t)),
    detail: (t) => void (verbose ? io.err(`nftlb: ${t}\n`) : undefined),
    progress,
  };
}

// Milliseconds since `t0`, for -v lines.
export const since = (t0: number): string => `${Math.round(performance.now() - t0)} ms`;

// An executor that names each program it runs on the progress line (`nft -f -`): what a long apply or status waits for.
// It can do all that `exec` can: without feed a load would not be streamed, only because stderr is a terminal.
export function showingSteps(exec: Executor, progress: Progress): Executor {
  if (!progress.enabled) return exec;
  const name = (cmd: string, args: readonly string[]): string =>
    `running ${basename(cmd)} ${args.join(' ')}`.slice(0, 60).trimEnd();
  return {
    run: (cmd, args, input, o) => {
      progress.step(name(cmd, args));
      return exec.run(cmd, args, input, o);
    },
    ...(exec.feed === undefined
      ? {}
      : {
          feed: (
            cmd: string,
            args: (input: string) => readonly string[],
            pieces: Iterable<string>,
            after?: () => void,
          ) => {
            progress.step(name(cmd, args('<pipe>')));
            return exec.feed!(cmd, args, pieces, after);
          },
        }),
    ...(exec.interact === undefined ? {} : { interact: exec.interact.bind(exec) }),
    ...(exec.start === undefined
      ? {}
      : {
          start: (cmd: string, args: readonly string[]) => {
            progress.step(name(cmd, args));
            return exec.start!(cmd, args);
          },
        }),
    ...(exec.stream === undefined ? {} : { stream: exec.stream.bind(exec) }),
  };
}
