import { Option } from 'commander';
import type { Executor } from '../system/executor.js';
import { DEFAULT_CONFIG_PATH, resolveHost, type Host, type HostOptions } from '../system/host.js';
import type { Io } from './io.js';

// What a command needs from the outside world; tests substitute every part.
export interface CommandContext {
  readonly io: Io;
  /** Records the exit code; main() exits with it once the command has finished. */
  exit(code: number): void;
  readonly env: NodeJS.ProcessEnv;
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
