import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { formatDiagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { checkConfig } from '../config/read.js';
import { configYaml, toConfig } from '../iptables/import/config-writer.js';
import { parseSave } from '../iptables/import/save-parser.js';
import { recognise } from '../iptables/import/recognise-services.js';
import type { CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './io.js';

async function readInput(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new NftlbError(
      'config-read',
      `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
}

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
        const parsed = [];
        for (const f of names) parsed.push(parseSave(f === '-' ? '<stdin>' : f, await readInput(f)));
        const { services, ignored, problems } = recognise(parsed);
        const text = configYaml(toConfig(services));
        const checked = checkConfig('<import>', text);
        if (checked.model === undefined) {
          for (const d of checked.diagnostics) ctx.io.err(`${formatDiagnostic('<import>', d)}\n`);
          throw new NftlbError('internal', 'the imported config does not validate (a bug in the importer)');
        }
        ctx.io.out(text);
        for (const p of ignored) ctx.io.err(`${p.file}:${p.line}: ignored: ${p.reason}: ${p.text}\n`);
        for (const p of [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line))
          ctx.io.err(`${p.file}:${p.line}: not understood: ${p.reason}: ${p.text}\n`);
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
