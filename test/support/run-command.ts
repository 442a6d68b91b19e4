// Runs one ops command (apply, remove, status, diff, doctor) in-process with an injected executor.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Executor } from '../../src/system/executor.js';
import type { CommandContext } from '../../src/cli/context.js';

// Output and exit code of a command run.
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Builds the command with `make(ctx, exec)` and parses `args` (without the command name).
export async function runCommand(
  make: (ctx: CommandContext, exec: Executor) => Command,
  args: string[],
  exec: Executor,
  env: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  let code = -1;
  const ctx: CommandContext = {
    io: { out: (s) => void (stdout += s), err: (s) => void (stderr += s) },
    env,
    exit: (c) => void (code = c),
  };
  const cmd = make(ctx, exec)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (stdout += s), writeErr: (s) => void (stderr += s) });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    return { code: (e as { exitCode?: number }).exitCode === 0 ? 0 : 2, stdout, stderr };
  }
  return { code, stdout, stderr };
}

const made: string[] = [];
process.on('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

// A scratch directory (removed when the test process exits) with a config file (and room for the lock and state files).
export function scratch(config: string, name = 'nftlb.yaml'): { dir: string; config: string; lock: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-ops-'));
  made.push(dir);
  const file = join(dir, name);
  writeFileSync(file, config);
  return { dir, config: file, lock: join(dir, 'run', 'apply.lock') };
}

// A small valid config: one dual-stack TCP service with three backends, one UDP service.
export const CONFIG = `services:
  - name: web
    vip: [203.0.113.1, 2001:db8:1::1]
    port: 80
    backends:
      - address: 198.51.100.2
        port: 8080
      - address: 198.51.100.3
        port: 8080
        weight: 2
      - address: 2001:db8:2::2
        port: 8080
  - name: dns
    vip: 203.0.113.1
    protocol: udp
    port: 53
    backends:
      - address: 198.51.100.2
      - address: 198.51.100.3
`;
