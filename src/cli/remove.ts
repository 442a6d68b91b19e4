import { Command, Option } from 'commander';
import { systemExecutor, type Executor } from '../system/executor.js';
import { removeTable } from '../ops/remove.js';
import { loadModel } from '../system/config-file.js';
import { lockOptions, reportOpsError } from './apply.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';

// `nftlb remove`: deletes nftlb's table and nothing else; removing a table that is not there succeeds (exit 0).
export function removeCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const cmd = new Command('remove')
    .description("delete nftlb's tables: the inet one and the DSR netdev one (idempotent; other tables are untouched)")
    .addOption(configOption())
    .addOption(new Option('--table <name>', 'table to remove (default: the table named in the config)'))
    .addOption(new Option('--json', 'print the outcome as JSON on stdout'));
  for (const o of lockOptions()) cmd.addOption(o);
  return cmd.action(
    async (opts: { config: string; table?: string; json?: boolean; wait: number; lockFile?: string }) => {
      const json = opts.json === true;
      try {
        const table = opts.table ?? (await loadModel(opts.config)).model.table;
        const r = await removeTable(hostOf(ctx, exec, { lockFile: opts.lockFile }), { table, waitSeconds: opts.wait });
        if (json)
          ctx.io.out(
            `${JSON.stringify({ command: 'remove', result: r.removed ? 'removed' : 'absent', exitCode: EXIT.ok, table: r.table, tables: r.tables }, null, 2)}\n`,
          );
        else if (r.removed) ctx.io.err(`nftlb: removed ${r.tables.map((t) => `table ${t}`).join(' and ')}\n`);
        ctx.exit(EXIT.ok);
      } catch (e) {
        ctx.exit(reportOpsError(ctx.io, 'remove', json, e, opts.table === undefined ? opts.config : undefined));
      }
    },
  );
}
