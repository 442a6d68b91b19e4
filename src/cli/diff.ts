import { Command, Option } from 'commander';
import { readDiff, type Change } from '../ops/diff.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { reportOpsError } from './apply.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';

// `nftlb diff`: what apply would change, in the config's terms. Exit 0 when nothing, 12 when something would change,
// the documented error codes otherwise (3 invalid config, 6 nft failure, 7 nft missing).
export function diffCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  return new Command('diff')
    .description('show what apply would change against the live table (exit 0: nothing, 12: changes)')
    .addOption(configOption())
    .addOption(new Option('--json', 'print the changes as JSON on stdout'))
    .addOption(new Option('--lock-file <file>', 'lock file whose directory holds the record of the last apply'))
    .action(async (opts: { config: string; json?: boolean; lockFile?: string }) => {
      const json = opts.json === true;
      try {
        const d = await readDiff(hostOf(ctx, exec, { lockFile: opts.lockFile }), { config: opts.config });
        const code = d.changes.length === 0 ? EXIT.ok : EXIT.differs;
        if (json) ctx.io.out(`${JSON.stringify({ command: 'diff', exitCode: code, ...d }, null, 2)}\n`);
        else ctx.io.out(d.changes.map((c) => `${changeText(c)}\n`).join(''));
        ctx.exit(code);
      } catch (e) {
        ctx.exit(reportOpsError(ctx.io, 'diff', json, e, opts.config));
      }
    });
}

// One change as a line: + added, - removed, ~ changed, ! whole table.
export function changeText(c: Change): string {
  switch (c.kind) {
    case 'service-added':
      return `+ service ${c.service}`;
    case 'service-removed':
      return `- service ${c.service}`;
    case 'service-changed':
      return `~ service ${c.service}: ${c.field} ${c.from} -> ${c.to}`;
    case 'backend-added':
      return `+ backend ${c.backend} (service ${c.service})`;
    case 'backend-removed':
      return `- backend ${c.backend} (service ${c.service})`;
    case 'backend-changed':
      return `~ backend ${c.backend} (service ${c.service}): ${c.field} ${c.from} -> ${c.to}`;
    case 'forward-changed':
      return `~ forward filter: ${c.from} -> ${c.to}`;
    case 'table-replaced':
      return `! whole table would be replaced: ${c.reason}`;
  }
}
