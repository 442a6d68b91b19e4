import { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { NftlbError } from '../common/errors.js';
import { checkConfig } from '../config/read.js';
import { importIptables, type ImportInput } from '../iptables/import/import-pipeline.js';
import type { CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './io.js';

/** The largest input `nftlb import iptables` reads, per file (iptables-save of a million rules is about 100 MB). */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;

// Reads one input, at most MAX_IMPORT_BYTES of it (/dev/zero or a runaway pipe end in exit 4, not in a full memory).
async function readInput(file: string): Promise<string> {
  const name = file === '-' ? '<stdin>' : file;
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of file === '-' ? process.stdin : createReadStream(file)) {
      size += (c as Buffer).length;
      if (size > MAX_IMPORT_BYTES)
        throw new NftlbError(
          'config-read',
          `${name} is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB, the most nftlb import reads`,
        );
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (cause) {
    if (cause instanceof NftlbError) throw cause;
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
        const inputs: ImportInput[] = [];
        for (const f of names) inputs.push({ file: f === '-' ? '<stdin>' : f, text: await readInput(f) });
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
