import { Command, Option } from 'commander';
import { hasErrors } from '../common/diagnostic.js';
import { checkConfig } from '../config/read.js';
import { readConfigFile } from '../system/config-file.js';
import { configOption, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { errorCount, printDiagnostics, reportError } from './io.js';

// `nftlb check`: reports every problem of the config at once; exit 0 when it can be used, 3 when it cannot.
export function checkCommand(ctx: CommandContext): Command {
  return new Command('check')
    .description('validate the config and report every problem with file, line and key')
    .addOption(configOption())
    .addOption(new Option('--json', 'print every diagnostic found as JSON on stdout'))
    .action(async (opts: { config: string; json?: boolean }) => {
      try {
        const checked = checkConfig(opts.config, await readConfigFile(opts.config));
        const bad = hasErrors(checked.diagnostics);
        if (opts.json) {
          ctx.io.out(
            `${JSON.stringify({ file: opts.config, valid: !bad, diagnostics: checked.diagnostics }, null, 2)}\n`,
          );
        } else {
          printDiagnostics(ctx.io, opts.config, checked.diagnostics);
          ctx.io.err(
            bad
              ? `nftlb: ${opts.config}: ${errorCount(checked.diagnostics)}\n`
              : `nftlb: ${opts.config}: ok (${checked.model?.services.length ?? 0} services)\n`,
          );
        }
        ctx.exit(bad ? EXIT.configInvalid : EXIT.ok);
      } catch (e) {
        ctx.exit(reportError(ctx.io, e, opts.config));
      }
    });
}
