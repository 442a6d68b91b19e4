import { formatDiagnostic, type Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { exitCodeFor, EXIT } from './exit-codes.js';

// Output sinks of a command run; tests pass buffers, main() passes the process streams.
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

// The process's own stdout/stderr.
export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

// Prints diagnostics one per line on stderr.
export function printDiagnostics(io: Io, file: string, ds: readonly Diagnostic[]): void {
  for (const d of ds) io.err(`${formatDiagnostic(file, d)}\n`);
}

// Reports an error on stderr and returns the exit code that belongs to it.
export function reportError(io: Io, e: unknown, file?: string): number {
  if (e instanceof NftlbError) {
    if (e.diagnostics.length > 0 && file !== undefined) {
      printDiagnostics(io, file, e.diagnostics);
      const n = e.diagnostics.filter((d) => d.severity === 'error').length;
      io.err(`nftlb: ${file}: ${n} error${n === 1 ? '' : 's'}; nothing was changed\n`);
    } else {
      io.err(`nftlb: ${e.message}\n`);
    }
    if (e.detail) io.err(`${e.detail.trimEnd()}\n`);
    return exitCodeFor(e.code);
  }
  io.err(`nftlb: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.internal;
}
