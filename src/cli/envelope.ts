import type { Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { EXIT } from './exit-codes.js';
import { reportError, type Io } from './io.js';

/** What a failure says in --json output: a stable code (NftlbErrorCode, or `usage`), the message, and the tool output
 *  or hint behind it. */
export interface ErrorObject {
  readonly code: string;
  readonly message: string;
  readonly detail: string | null;
}

/** The keys every --json output of every command starts with, on success and on failure. `error` is null exactly when
 *  the exit code is not an error's (0, and the outcomes 9 unchanged, 10 blocked, 11 incomplete, 12 differs). */
export interface Envelope {
  readonly command: string;
  /** The command's outcome in one word (`applied`, `valid`, ...); `error` when `error` is set. */
  readonly result: string;
  readonly exitCode: number;
  readonly error: ErrorObject | null;
}

// The error object of a failure: an NftlbError's code, message and detail; anything else is a bug in nftlb.
export function errorObject(e: unknown): ErrorObject {
  return e instanceof NftlbError
    ? { code: e.code, message: e.message, detail: e.detail ?? null }
    : { code: 'internal', message: e instanceof Error ? e.message : String(e), detail: null };
}

/** How an envelope is laid out: `pretty`, indented over many lines (a command's one output); `line`, on one line (the
 *  last line of a command that prints one JSON object per line, `nftlb trace`, so every line parses on its own). */
export type Layout = 'pretty' | 'line';

// Prints one envelope on stdout: the four keys first, then the command's own fields.
export function printEnvelope(
  io: Io,
  command: string,
  result: string,
  exitCode: number,
  fields: object = {},
  error: ErrorObject | null = null,
  layout: Layout = 'pretty',
): void {
  const out: Envelope = { command, result, exitCode, error };
  io.out(`${JSON.stringify({ ...out, ...fields }, null, layout === 'line' ? undefined : 2)}\n`);
}

// A usage error found by the command itself (an argument commander cannot judge): its message on stderr and, with
// --json, the error envelope. Returns the exit code (2).
export function reportUsage(
  io: Io,
  command: string,
  json: boolean,
  message: string,
  fields: object = {},
  layout: Layout = 'pretty',
): number {
  io.err(`nftlb: ${message}\n`);
  if (json) printEnvelope(io, command, 'error', EXIT.usage, fields, { code: 'usage', message, detail: null }, layout);
  return EXIT.usage;
}

// Reports a failure: the usual text on stderr and, with --json, the error envelope on stdout with the command's fields
// known so far and the diagnostics of an invalid config. Returns the exit code.
export function reportFailure(
  io: Io,
  command: string,
  json: boolean,
  e: unknown,
  file?: string,
  fields: object = {},
  layout: Layout = 'pretty',
): number {
  const code = reportError(io, e, file);
  if (json) {
    const diagnostics: readonly Diagnostic[] = e instanceof NftlbError ? e.diagnostics : [];
    printEnvelope(
      io,
      command,
      'error',
      code,
      { ...fields, ...(diagnostics.length > 0 ? { diagnostics } : {}) },
      errorObject(e),
      layout,
    );
  }
  return code;
}
