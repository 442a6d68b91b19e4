// Shared pieces of the health unit tests: a config-to-model helper and a fake executor that plays nft and flock.
import type { ExecResult, Executor, Started } from '../../src/system/executor.js';
import { checkConfig } from '../../src/config/read.js';
import type { Model } from '../../src/model/types.js';

// Builds a model from YAML text, failing loudly on any diagnostic error.
export function modelOf(yaml: string): Model {
  const c = checkConfig('test.yaml', yaml);
  if (c.model === undefined) throw new Error(c.diagnostics.map((d) => `${d.path}: ${d.message}`).join('\n'));
  return c.model;
}

/** One recorded call of the fake. */
export interface Call {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly input: string | undefined;
}

// A fake kernel holding table inet hc: `nft -f -` succeeds unless refuse() says no or a command needs what is not there.
// A full script (with `delete table`) replaces the table: its chains are then the `add chain` lines of that script (the
// guard chain of nftlb health). An incremental script fails, as nft does, when it flushes a chain the table does not
// have (or there is no table), with nft's message echoing that line. replaceTable() plays `nftlb apply` (a table
// without the guard), dropTable() `nft delete table`. flock always grants the lock.
export function fakeExecutor(): Executor & {
  calls: Call[];
  /** Chains added by name outside a table block, by the last full load; null: no table. */
  chains: Set<string> | null;
  refuse: ((script: string) => boolean) | null;
  replaceTable(): void;
  dropTable(): void;
} {
  const ok = (stdout = '', exitCode = 0, stderr = ''): ExecResult => ({ exitCode, stdout, stderr });
  const fake = {
    calls: [] as Call[],
    chains: null as Set<string> | null,
    refuse: null as ((script: string) => boolean) | null,
    replaceTable: () => void (fake.chains = new Set()),
    dropTable: () => void (fake.chains = null),
    async run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
      fake.calls.push({ cmd, args, input });
      if (cmd === 'nft' && (args.join(' ') === '-f -' || args.join(' ') === '-c -f -')) {
        const script = input ?? '';
        if (fake.refuse?.(script)) return ok('', 1, 'Error: Could not process rule: No such file or directory');
        if (script.includes('delete table inet hc')) {
          if (args[0] === '-f')
            fake.chains = new Set([...script.matchAll(/^add chain inet hc (\S+)$/gm)].map((m) => m[1]!));
          return ok();
        }
        const lines = script.split('\n');
        const bad = lines.findIndex((l) => {
          const m = /^flush chain inet (\S+) (\S+)$/.exec(l);
          return m !== null && m[2]!.startsWith('health_') && (m[1] !== 'hc' || fake.chains?.has(m[2]!) !== true);
        });
        if (bad >= 0)
          return ok(
            '',
            1,
            `/dev/stdin:${bad + 1}:1-5: Error: Could not process rule: No such file or directory\n${lines[bad]}\n^^^^^\n`,
          );
        for (const m of script.matchAll(/^add chain inet hc (\S+)(?: \{)?$/gm)) fake.chains?.add(m[1]!);
        for (const m of script.matchAll(/^delete chain inet hc (\S+)$/gm)) fake.chains?.delete(m[1]!);
        return ok();
      }
      if (cmd === 'conntrack')
        return ok('', 1, 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.');
      throw new Error(`unexpected command ${cmd} ${args.join(' ')}`);
    },
    async start(cmd: string, args: readonly string[]): Promise<Started> {
      fake.calls.push({ cmd, args, input: undefined });
      let hello = '';
      return {
        write: (t: string) => void (hello += t),
        firstLine: async () => hello.trim(),
        end: async () => ok(),
      };
    },
  };
  return fake;
}
