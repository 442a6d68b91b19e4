import { Command, Option } from 'commander';
import { oneLine } from '../common/diagnostic.js';
import { checkConfig } from '../config/read.js';
import { importIptables, type ImportInput } from '../iptables/import/import-pipeline.js';
import { readImportInput } from '../system/input-file.js';
import { outputOf, verbosityOptions, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count } from './io.js';

/** How much of a rule a listed line echoes, and of the reason (which may quote an option of the rule). */
const ECHO_MAX = 400;
const REASON_MAX = 2000;

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
      // The input's own text is echoed, each part on one printable line (control and bidi characters escaped, as in
      // check's diagnostics) and cut: a rule line can be megabytes long (a reason quotes parts of it).
      const echo = (x: string, max: number): string => oneLine(x.length > max ? `${x.slice(0, max)}...` : x);
      const line = (p: { file: string; line: number; reason: string; text: string }, what: string): string =>
        `${p.file}:${p.line}: ${what}: ${echo(p.reason, REASON_MAX)}: ${echo(p.text, ECHO_MAX)}\n`;
      const listed = [
        ...(out.quiet ? [] : ignored.map((p) => line(p, 'ignored'))),
        ...problems.map((p) => line(p, 'not understood')),
      ];
      if (listed.length > 0) out.io.err(listed.join(''));
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
