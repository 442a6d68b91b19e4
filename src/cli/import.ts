import { Command } from 'commander';
import { checkConfig } from '../config/read.js';
import { importIptables, type ImportInput } from '../iptables/import/import-pipeline.js';
import { readImportInput } from '../system/input-file.js';
import type { CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './io.js';

// `nftlb import iptables [FILE...|-]`: iptables-save output (IPv4 and/or IPv6) -> nftlb config on stdout. Rules it
// does not understand are listed on stderr with file and line, and the exit code says the import is incomplete.
export function importCommand(ctx: CommandContext): Command {
  const iptables = new Command('iptables')
    .description(
      'read iptables-save / ip6tables-save output (or nftlb iptables renders) and print an nftlb config (YAML)',
    )
    .argument('[files...]', 'input files; - or none reads stdin', [])
    .action(async (files: string[]) => {
      try {
        const names = files.length === 0 ? ['-'] : files;
        const inputs: ImportInput[] = [];
        for (const f of names) inputs.push({ file: f === '-' ? '<stdin>' : f, text: await readImportInput(f) });
        const { yaml, ignored, problems } = importIptables(inputs, (text) => checkConfig('<import>', text).diagnostics);
        ctx.io.out(yaml);
        const listed = [
          ...ignored.map((p) => `${p.file}:${p.line}: ignored: ${p.reason}: ${p.text}\n`),
          ...problems.map((p) => `${p.file}:${p.line}: not understood: ${p.reason}: ${p.text}\n`),
        ];
        // The input's own text is echoed: control characters (a terminal's escape sequences) are shown as '?'.
        if (listed.length > 0) ctx.io.err(listed.join('').replace(/[^\t\n -~\u00a0-\uffff]/g, '?'));
        if (problems.length > 0)
          ctx.io.err(`nftlb: ${problems.length} rule${problems.length === 1 ? '' : 's'} not imported (listed above)\n`);
        ctx.exit(problems.length > 0 ? EXIT.importIncomplete : EXIT.ok);
      } catch (e) {
        ctx.exit(reportError(ctx.io, e));
      }
    });
  iptables.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  return new Command('import')
    .description("convert another load balancer's rules into an nftlb config")
    .addCommand(iptables);
}
