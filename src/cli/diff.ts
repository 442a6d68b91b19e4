import { Command, Option } from 'commander';
import { readDiff, type Change } from '../ops/diff.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import {
  configOption,
  hostOf,
  outputOf,
  showingSteps,
  since,
  verbosityOptions,
  type CommandContext,
} from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';

// `nftlb diff`: what apply would change, in the config's terms. Exit 0 when nothing, 12 when something would change,
// the documented error codes otherwise (3 invalid config, 6 nft failure, 7 nft missing). -q: no lines, only the exit
// code (as `diff -q` and `git diff --quiet` are used in scripts); -v: the fingerprints and the time taken.
export function diffCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const cmd = new Command('diff')
    .description('show what apply would change against the live table (exit 0: nothing, 12: changes)')
    .addOption(configOption())
    .addOption(new Option('--json', 'print the changes as JSON on stdout'))
    .addOption(new Option('--lock-file <file>', 'lock file whose directory holds the record of the last apply'));
  for (const o of verbosityOptions()) cmd.addOption(o);
  return cmd.action(
    async (opts: { config: string; json?: boolean; lockFile?: string; quiet?: boolean; verbose?: boolean }) => {
      const json = opts.json === true;
      const out = outputOf(ctx, opts);
      try {
        const t0 = performance.now();
        out.progress.step(`reading ${opts.config}`);
        const d = await readDiff(hostOf(ctx, showingSteps(exec, out.progress), { lockFile: opts.lockFile }), {
          config: opts.config,
        });
        out.progress.done();
        const code = d.changes.length === 0 ? EXIT.ok : EXIT.differs;
        out.detail(
          `table ${d.table}: live ${d.live}, fingerprint ${d.fingerprint.config} (live ${d.fingerprint.live ?? 'none'}), ${d.changes.length} changes (${since(t0)})`,
        );
        if (json) printEnvelope(out.io, 'diff', code === EXIT.ok ? 'same' : 'differs', code, d);
        else if (!out.quiet) out.io.out(d.changes.map((c) => `${changeText(c)}\n`).join(''));
        if (d.note !== undefined && !json) out.note(`nftlb diff: note: ${d.note}\n`);
        ctx.exit(code);
      } catch (e) {
        out.progress.done();
        ctx.exit(reportFailure(out.io, 'diff', json, e, opts.config));
      }
    },
  );
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
