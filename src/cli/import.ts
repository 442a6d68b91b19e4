import { Command, Option } from 'commander';
import { checkConfig } from '../config/read.js';
import { importIptables, type ImportInput } from '../iptables/import/import-pipeline.js';
import { readImportInput } from '../system/input-file.js';
import { outputOf, verbosityOptions, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count } from './io.js';

// `nftlb import iptables [FILE...|-]`: iptables-save output (IPv4 and/or IPv6) -> nftlb config on stdout. Rules it
// does not understand are listed on stderr with file and line, and the exit code says the import is incomplete. -q:
// the rules it ignores on purpose (not load balancing) are not listed; -v: what was read and imported.
export function importCommand(ctx: CommandContext): Command {
  const iptables = new Command('iptables')
    .description(
      'read iptables-save / ip6tables-save output (or nftlb iptables renders) and print an nftlb config (YAML)',
    )
    .argument('[files...]', 'input files; - or none reads stdin', [])
    .addOption(new Option('--json', 'print the config and what was left out as JSON on stdout'));
  for (const o of verbosityOptions()) iptables.addOption(o);
  iptables.action(async (files: string[], opts: { json?: boolean; quiet?: boolean; verbose?: boolean }) => {
    const json = opts.json === true;
    const out = outputOf(ctx, opts);
    const names = files.length === 0 ? ['-'] : files;
    const shown = names.map((f) => (f === '-' ? '<stdin>' : f));
    try {
      const inputs: ImportInput[] = [];
      for (let i = 0; i < names.length; i++) inputs.push({ file: shown[i]!, text: await readImportInput(names[i]!) });
      const { yaml, services, ignored, problems } = importIptables(
        inputs,
        (text) => checkConfig('<import>', text).diagnostics,
      );
      const code = problems.length > 0 ? EXIT.importIncomplete : EXIT.ok;
      if (json)
        printEnvelope(out.io, 'import', code === EXIT.ok ? 'imported' : 'incomplete', code, {
          files: shown,
          services,
          config: yaml,
          ignored,
          problems,
        });
      else out.io.out(yaml);
      const listed = [
        ...(out.quiet ? [] : ignored.map((p) => `${p.file}:${p.line}: ignored: ${p.reason}: ${p.text}\n`)),
        ...problems.map((p) => `${p.file}:${p.line}: not understood: ${p.reason}: ${p.text}\n`),
      ];
      // The input's own text is echoed: control characters (a terminal's escape sequences) are shown as '?'.
      if (listed.length > 0) out.io.err(listed.join('').replace(/[^\t\n -~\u00a0-\uffff]/g, '?'));
      if (problems.length > 0) out.io.err(`nftlb: ${count(problems.length, 'rule')} not imported (listed above)\n`);
      out.detail(
        `import: ${count(names.length, 'input')}, ${count(services, 'service')}, ${count(ignored.length, 'rule')} ignored, ${problems.length} not understood`,
      );
      ctx.exit(code);
    } catch (e) {
      ctx.exit(reportFailure(out.io, 'import', json, e, undefined, { files: shown }));
    }
  });
  iptables.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  return new Command('import')
    .description("convert another load balancer's rules into an nftlb config")
    .addCommand(iptables);
}
