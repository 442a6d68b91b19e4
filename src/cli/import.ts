import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { formatDiagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { checkConfig } from '../config/read.js';
import { configYaml, toConfig } from '../iptables/import/config.js';
import { parseSave } from '../iptables/import/parse.js';
import { recognise } from '../iptables/import/recognize.js';
import { outputOf, verbosityOptions, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';

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
    try {
      const parsed = [];
      for (const f of names) parsed.push(parseSave(f === '-' ? '<stdin>' : f, await readInput(f)));
      const { services, ignored, problems } = recognise(parsed);
      const text = configYaml(toConfig(services));
      const checked = checkConfig('<import>', text);
      if (checked.model === undefined) {
        for (const d of checked.diagnostics) out.io.err(`${formatDiagnostic('<import>', d)}\n`);
        throw new NftlbError('internal', 'the imported config does not validate (a bug in the importer)');
      }
      const code = problems.length > 0 ? EXIT.importIncomplete : EXIT.ok;
      const sorted = [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
      if (json)
        printEnvelope(out.io, 'import', code === EXIT.ok ? 'imported' : 'incomplete', code, {
          files: names.map((f) => (f === '-' ? '<stdin>' : f)),
          services: services.length,
          config: text,
          ignored,
          problems: sorted,
        });
      else out.io.out(text);
      if (!out.quiet) for (const p of ignored) out.io.err(`${p.file}:${p.line}: ignored: ${p.reason}: ${p.text}\n`);
      for (const p of sorted) out.io.err(`${p.file}:${p.line}: not understood: ${p.reason}: ${p.text}\n`);
      if (problems.length > 0)
        out.io.err(`nftlb: ${problems.length} rule${problems.length === 1 ? '' : 's'} not imported (listed above)\n`);
      out.detail(
        `import: ${names.length} input${names.length === 1 ? '' : 's'}, ${services.length} services, ${ignored.length} rules ignored, ${problems.length} not understood`,
      );
      ctx.exit(code);
    } catch (e) {
      ctx.exit(reportFailure(out.io, 'import', json, e, undefined, { files: names }));
    }
  });
  iptables.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  return new Command('import')
    .description("convert another load balancer's rules into an nftlb config")
    .addCommand(iptables);
}
