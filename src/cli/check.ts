import { Command, Option } from 'commander';
import { hasErrors } from '../common/diagnostic.js';
import { checkConfig } from '../config/read.js';
import { readConfigFile } from '../system/config-file.js';
import { configOption, outputOf, since, verbosityOptions, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count, errorCount, printDiagnostics } from './io.js';

// `nftlb check`: reports every problem of the config at once; exit 0 when it can be used, 3 when it cannot, 4 when it
// cannot be read. -q: nothing on success (problems still listed); -v: the config's size and the time taken.
export function checkCommand(ctx: CommandContext): Command {
  const cmd = new Command('check')
    .description('validate the config and report every problem with file, line and key')
    .addOption(configOption())
    .addOption(new Option('--json', 'print every diagnostic found as JSON on stdout'));
  for (const o of verbosityOptions()) cmd.addOption(o);
  return cmd.action(async (opts: { config: string; json?: boolean; quiet?: boolean; verbose?: boolean }) => {
    const json = opts.json === true;
    const out = outputOf(ctx, opts);
    try {
      const t0 = performance.now();
      out.progress.step(`reading ${opts.config}`);
      const checked = checkConfig(opts.config, await readConfigFile(opts.config), (s) => out.progress.step(s));
      out.progress.done();
      const bad = hasErrors(checked.diagnostics);
      const code = bad ? EXIT.configInvalid : EXIT.ok;
      const services = checked.model?.services.length ?? null;
      if (checked.model !== undefined)
        out.detail(
          `${opts.config}: table ${checked.model.table}, ${count(checked.model.services.length, 'service')}, ${count(
            checked.model.services.reduce((n, s) => n + s.backends.length, 0),
            'backend',
          )} (${since(t0)})`,
        );
      if (json) {
        printEnvelope(
          out.io,
          'check',
          bad ? 'error' : 'valid',
          code,
          { file: opts.config, valid: !bad, services, diagnostics: checked.diagnostics },
          bad
            ? { code: 'config-invalid', message: `${opts.config}: ${errorCount(checked.diagnostics)}`, detail: null }
            : null,
        );
      } else if (bad || !out.quiet) {
        printDiagnostics(out.io, opts.config, checked.diagnostics);
        out.io.err(
          bad
            ? `nftlb: ${opts.config}: ${errorCount(checked.diagnostics)}\n`
            : `nftlb: ${opts.config}: ok (${count(services ?? 0, 'service')})\n`,
        );
      }
      ctx.exit(code);
    } catch (e) {
      out.progress.done();
      ctx.exit(
        reportFailure(out.io, 'check', json, e, opts.config, {
          file: opts.config,
          valid: false,
          services: null,
          diagnostics: [],
        }),
      );
    }
  });
}
