import { Command, Option } from 'commander';
import { systemExecutor, type Executor } from '../system/executor.js';
import { tableNameProblem } from '../nft/tables.js';
import { removeTable } from '../ops/remove.js';
import { configTable } from '../system/config-file.js';
import { lockOptions } from './apply.js';
import {
  configOption,
  hostOf,
  outputOf,
  showingSteps,
  since,
  verbosityOptions,
  type CommandContext,
} from './context.js';
import { printEnvelope, reportFailure, reportUsage } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { errorCount } from './io.js';

// `nftlb remove`: deletes nftlb's table and nothing else; removing a table that is not there succeeds (exit 0). -q: no
// line when it removed one; -v: which table and the time taken.
export function removeCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const cmd = new Command('remove')
    .description("delete nftlb's tables: the inet one and the DSR netdev one (idempotent; other tables are untouched)")
    .addOption(configOption())
    .addOption(new Option('--table <name>', 'table to remove (default: the table named in the config)'))
    .addOption(new Option('--json', 'print the outcome as JSON on stdout'));
  for (const o of [...lockOptions(), ...verbosityOptions()]) cmd.addOption(o);
  return cmd.action(
    async (opts: {
      config: string;
      table?: string;
      json?: boolean;
      wait: number;
      lockFile?: string;
      quiet?: boolean;
      verbose?: boolean;
    }) => {
      const json = opts.json === true;
      const out = outputOf(ctx, opts);
      const wrong = opts.table === undefined ? undefined : tableNameProblem(opts.table);
      if (wrong !== undefined) {
        const message = `--table ${JSON.stringify(opts.table)} names no table nftlb makes: ${wrong}`;
        ctx.exit(reportUsage(out.io, 'remove', json, message, { table: opts.table, tables: [] }));
        return;
      }
      try {
        const t0 = performance.now();
        const named =
          opts.table === undefined ? await configTable(opts.config, (s) => out.progress.step(s)) : undefined;
        const table = opts.table ?? named!.table;
        // A config with errors elsewhere still names its table: it is removed, and the errors are mentioned.
        const problems = named?.problems.filter((d) => d.severity === 'error') ?? [];
        if (problems.length > 0)
          out.io.err(
            `nftlb: warning: ${opts.config}: ${errorCount(problems)} (nftlb check lists them); its table ${table} is removed all the same\n`,
          );
        const r = await removeTable(hostOf(ctx, showingSteps(exec, out.progress), { lockFile: opts.lockFile }), {
          table,
          waitSeconds: opts.wait,
        });
        out.progress.done();
        const removed = r.tables.map((t) => `table ${t}`).join(' and ');
        out.detail(`${r.removed ? `removed ${removed}` : `no table of ${r.table}`} (${since(t0)})`);
        if (json)
          printEnvelope(out.io, 'remove', r.removed ? 'removed' : 'absent', EXIT.ok, {
            table: r.table,
            tables: r.tables,
          });
        else if (r.removed) out.note(`nftlb: removed ${removed}\n`);
        ctx.exit(EXIT.ok);
      } catch (e) {
        out.progress.done();
        ctx.exit(
          reportFailure(out.io, 'remove', json, e, opts.table === undefined ? opts.config : undefined, {
            table: opts.table ?? null,
            tables: [],
          }),
        );
      }
    },
  );
}
