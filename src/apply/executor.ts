import { execa } from 'execa';
import { NftlbError } from '../common/errors.js';

// The result of one external command.
export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

// Runs external tools (nft, conntrack, iptables-restore). The only way nftlb touches the system; tests inject a fake.
export interface Executor {
  /** Runs `cmd args...` with `input` on stdin; resolves with a non-zero exitCode instead of throwing; rejects with
   *  NftlbError 'nft-missing' when the program is not installed. */
  run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult>;
}

// The real executor: execa, script on stdin, no shell.
export function systemExecutor(env: NodeJS.ProcessEnv = process.env): Executor {
  return {
    async run(cmd, args, input) {
      const r = await execa(cmd, [...args], { input: input ?? '', reject: false, env, extendEnv: false, stripFinalNewline: false });
      if ((r as { code?: string }).code === 'ENOENT') {
        throw new NftlbError('nft-missing', `${cmd} is not installed or not on PATH`);
      }
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    },
  };
}
