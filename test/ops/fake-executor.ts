// A fake Executor for unit tests: a scripted nft with one table, and an in-memory flock(1).
import { NftlbError } from '../../src/common/errors.js';
import type { ExecResult, Executor, Started } from '../../src/system/executor.js';

// The fake kernel state and the failures a test wants nft to produce.
export interface FakeNft {
  /** The live table's `nft -t list` text, or undefined when the table does not exist. */
  listing: string | undefined;
  /** stderr of a failing `nft -c -f -` (undefined: the check passes). */
  checkError?: string;
  /** stderr of a failing `nft -f -` (undefined: the load passes). */
  loadError?: string;
  /** Every program missing from the fake PATH. */
  missing?: string[];
  /** Lock files currently held by someone else. */
  heldLocks?: Set<string>;
  /** Output of `nft -j list table` and `conntrack -L`, when a test needs them. */
  json?: string;
  conntrack?: string;
}

// One recorded call.
export interface Call {
  cmd: string;
  args: string[];
  input: string | undefined;
}

const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' });

// Builds the fake; `calls` records every run and start, in order.
export function fakeExecutor(state: FakeNft): Executor & { calls: Call[] } {
  const calls: Call[] = [];
  const missing = (cmd: string): void => {
    if (state.missing?.includes(cmd)) throw new NftlbError('nft-missing', `${cmd} is not installed or not on PATH`);
  };
  return {
    calls,
    async run(cmd, args, input) {
      calls.push({ cmd, args: [...args], input });
      missing(cmd);
      const a = args.join(' ');
      if (cmd === 'conntrack') return ok(args.includes('ipv6') ? '' : (state.conntrack ?? ''));
      if (a.startsWith('-t list table inet ') || a.startsWith('-j list table inet ')) {
        if (state.listing === undefined)
          return { exitCode: 1, stdout: '', stderr: 'Error: No such file or directory\nlist table inet x\n' };
        return ok(a.startsWith('-j') ? (state.json ?? '{"nftables": []}') : state.listing);
      }
      if (a === '-c -f -')
        return state.checkError === undefined ? ok() : { exitCode: 1, stdout: '', stderr: state.checkError };
      if (a === '-f -') {
        if (state.loadError !== undefined) return { exitCode: 1, stdout: '', stderr: state.loadError };
        const m = /comment "(nftlb fingerprint [0-9a-f]+)"/.exec(input ?? '');
        state.listing = m ? `table inet nftlb {\n\tcomment "${m[1]}"\n}\n` : undefined;
        return ok();
      }
      return { exitCode: 1, stdout: '', stderr: `fake nft: unexpected ${cmd} ${a}` };
    },
    async start(cmd, args): Promise<Started> {
      calls.push({ cmd, args: [...args], input: undefined });
      missing(cmd);
      const file = args[args.length - 2] ?? '';
      const busy = state.heldLocks?.has(file) === true;
      let line: string | null = null;
      return {
        write: (text) => {
          if (!busy) line = text.split('\n')[0] ?? null;
        },
        firstLine: async () => line,
        end: async () => ({ exitCode: busy ? 75 : 0, stdout: '', stderr: '' }),
      };
    },
  };
}
