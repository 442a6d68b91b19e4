import { execFile } from 'node:child_process';
import { withoutNodeModulesPath } from './env-path.js';
import type { Executor } from './executor.js';

// An executor with run() only, on node's own child_process: for apply's no-op check, which runs one short program
// before the rest of nftlb (and execa) is loaded. A program that is not there is an exit status of 127.
export function lightExecutor(callerEnv: NodeJS.ProcessEnv): Executor {
  const env = withoutNodeModulesPath(callerEnv);
  return {
    run: (cmd, args, input) =>
      new Promise((resolve) => {
        const child = execFile(cmd, [...args], { env, encoding: 'utf8', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 127;
          resolve({ exitCode: code, stdout, stderr });
        });
        // The program may exit before it reads its input (perl does): EPIPE on stdin is no failure of the run.
        child.stdin?.on('error', () => undefined);
        child.stdin?.end(input ?? '');
      }),
  };
}
