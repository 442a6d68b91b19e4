import { Option } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config/read.js';
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
