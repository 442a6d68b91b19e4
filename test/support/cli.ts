import { run } from '../../src/cli/program.js';

// Runs the CLI in-process with captured output.
export async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { out: (s) => void (stdout += s), err: (s) => void (stderr += s) }, env);
  return { code, stdout, stderr };
}
