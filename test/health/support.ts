// Shared pieces of the health unit tests: a config-to-model helper and a fake executor that plays nft and flock.
import type { ExecResult, Executor, Started } from '../../src/apply/executor.js';
import { checkConfig } from '../../src/config/validate.js';
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

// A fake kernel: `nft -j list tables` reports `handle` (null: no table), `nft -f -` succeeds unless refuse() says no,
// a full script (with `delete table`) bumps the handle as the kernel does, and flock always grants the lock.
export function fakeExecutor(): Executor & {
  calls: Call[];
  handle: number | null;
  refuse: ((script: string) => boolean) | null;
} {
  const ok = (stdout = '', exitCode = 0, stderr = ''): ExecResult => ({ exitCode, stdout, stderr });
  const fake = {
    calls: [] as Call[],
    handle: null as number | null,
    refuse: null as ((script: string) => boolean) | null,
    async run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
      fake.calls.push({ cmd, args, input });
      if (cmd === 'nft' && args.join(' ') === '-j list tables') {
        const tables = fake.handle === null ? [] : [{ table: { family: 'inet', name: 'hc', handle: fake.handle } }];
        return ok(JSON.stringify({ nftables: [{ metainfo: {} }, ...tables] }));
      }
      if (cmd === 'nft' && (args.join(' ') === '-f -' || args.join(' ') === '-c -f -')) {
        if (fake.refuse?.(input ?? '')) return ok('', 1, 'Error: Could not process rule: No such file or directory');
        if (args[0] === '-f' && (input ?? '').includes('delete table inet hc')) fake.handle = (fake.handle ?? 0) + 1;
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
