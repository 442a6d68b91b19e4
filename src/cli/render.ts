import { Command, Option } from 'commander';
import { loadModel } from '../system/config-file.js';
import { renderIptablesScript } from '../iptables/script.js';
import { renderNftScript } from '../nft/script.js';
import { plan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { configOption, type CommandContext } from './context.js';
import { printDiagnostics, reportError } from './io.js';

// Output formats of `nftlb render`, each giving its text as pieces whose concatenation is the output.
export const renderFormats = new Map<string, (p: Plan) => readonly string[]>([
  ['nft', (p) => renderNftScript(p).pieces],
  ['iptables', (p) => [renderIptablesScript(p, 4)]],
  ['ip6tables', (p) => [renderIptablesScript(p, 6)]],
]);

// `nftlb render`: prints the script for the config on stdout and nothing else; on error nothing reaches stdout.
export function renderCommand(ctx: CommandContext): Command {
  return new Command('render')
    .description('print the nft script (or iptables-restore input) for the config on stdout')
    .addOption(configOption())
    .addOption(
      new Option(
        '-f, --format <format>',
        'output format: nft, iptables (iptables-restore input, IPv4) or ip6tables (ip6tables-restore input, IPv6)',
      )
        .choices(['nft', 'iptables', 'ip6tables'])
        .default('nft'),
    )
    .action(async (opts: { config: string; format: string }) => {
      try {
        const fmt = renderFormats.get(opts.format);
        if (fmt === undefined) throw new Error(`format ${opts.format} is not available in this build`);
        // Only the plan is kept: the config text, its parsed value and the model are garbage once planned.
        const { p, warnings } = await loadModel(opts.config).then(({ model, warnings }) => ({
          p: plan(model),
          warnings,
        }));
        const pieces = fmt(p);
        printDiagnostics(ctx.io, opts.config, warnings);
        for (const piece of pieces) ctx.io.out(piece);
        ctx.exit(0);
      } catch (e) {
        ctx.exit(reportError(ctx.io, e, opts.config));
      }
    });
}
