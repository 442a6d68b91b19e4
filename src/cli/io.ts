import { formatDiagnostic, type Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { STOPPED_CODE } from '../config/read.js';
import { exitCodeFor, EXIT } from './exit-codes.js';

// Output sinks of a command run; tests pass buffers, main() passes the process streams.
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal (a person watches it): progress lines may be drawn there. */
  readonly errIsTTY?: boolean;
}

/** Largest piece of text handed to a stream at once (UTF-16 code units). */
const WRITE_PIECE = 1 << 20;

// Writes text in pieces of at most 1 Mi characters: a stream turns each write into a Buffer, so a 14 MB script written
// at once costs another 14 MB (or more while a pipe is full). Pieces never split a surrogate pair.
export function writePieces(write: (piece: string) => void, text: string): void {
  for (let i = 0; i < text.length;) {
    let end = Math.min(i + WRITE_PIECE, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    write(text.slice(i, end));
    i = end;
  }
}

// The process's own stdout/stderr.
export const processIo: Io = {
  out: (text) => writePieces((p) => process.stdout.write(p), text),
  err: (text) => process.stderr.write(text),
  get errIsTTY() {
    return process.stderr.isTTY === true;
  },
};

/** Most diagnostics printed on stderr; the rest are counted ("and M more"). `nftlb check --json` lists all that were
 *  found (at most MAX_PROBLEMS, then checking stops). */
export const MAX_PRINTED = 50;

// Prints diagnostics one per line on stderr: the first MAX_PRINTED (in file order), then how many more there are.
export function printDiagnostics(io: Io, file: string, ds: readonly Diagnostic[]): void {
  const n = Math.min(ds.length, MAX_PRINTED);
  for (let i = 0; i < n; i++) io.err(`${formatDiagnostic(file, ds[i]!)}\n`);
  if (ds.length > n) io.err(`nftlb: ${file}: and ${ds.length - n} more (nftlb check --json lists them all)\n`);
}

/** `n thing` or `n things`: counts in what nftlb says to a person. */
export function count(n: number, thing: string): string {
  return `${n} ${thing}${n === 1 ? '' : 's'}`;
}

// "3 errors", or "at least 10000 errors" when checking stopped (the loader's check.stopped diagnostic).
export function errorCount(ds: readonly Diagnostic[]): string {
  const stopped = ds.some((d) => d.code === STOPPED_CODE);
  const n = ds.filter((d) => d.severity === 'error' && d.code !== STOPPED_CODE).length;
  return `${stopped ? 'at least ' : ''}${count(n, 'error')}${stopped ? ' (checking stopped there)' : ''}`;
}

// Reports an error on stderr and returns the exit code that belongs to it.
export function reportError(io: Io, e: unknown, file?: string): number {
  if (e instanceof NftlbError) {
    if (e.diagnostics.length > 0 && file !== undefined) {
      printDiagnostics(io, file, e.diagnostics);
      io.err(`nftlb: ${file}: ${errorCount(e.diagnostics)}; nothing was changed\n`);
    } else {
      io.err(`nftlb: ${e.message}\n`);
    }
    if (e.detail) io.err(`${e.detail.trimEnd()}\n`);
    return exitCodeFor(e.code);
  }
  io.err(`nftlb: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.internal;
}
