import type { Diagnostic } from './diagnostic.js';

// Every failure nftlb reports; the CLI maps each code to a documented exit code.
export type NftlbErrorCode =
  | 'usage' // a command-line value that names nothing in the config (e.g. a service it does not have)
  | 'config-read' // the config file cannot be read
  | 'config-invalid' // parse, schema or semantic errors (diagnostics attached)
  | 'unsupported' // the requested output cannot express the config (e.g. iptables + maglev)
  | 'tool-missing' // a program nftlb runs (nft, flock, conntrack, ...) is not installed or not on PATH
  | 'nft-failed' // nft refused the script or failed to list
  | 'lock-busy' // another apply holds the lock
  | 'host-fault' // the host refused a file operation (read-only or full file system, a directory that is a file)
  | 'foreign-table' // a table of nftlb's name exists that nftlb did not make
  | 'not-found' // nftlb backend: the config has no such service or backend
  | 'engine-failed' // a cluster engine (BIRD through birdc, conntrackd) refused a command or is not running
  | 'internal'; // a bug in nftlb

// The one error type of nftlb: a code, a short message, the diagnostics or tool output behind it, the original cause.
export class NftlbError extends Error {
  override readonly name = 'NftlbError';
  readonly code: NftlbErrorCode;
  readonly diagnostics: readonly Diagnostic[];
  readonly detail: string | undefined;

  constructor(
    code: NftlbErrorCode,
    message: string,
    opts: { diagnostics?: readonly Diagnostic[]; detail?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.diagnostics = opts.diagnostics ?? [];
    this.detail = opts.detail;
  }
}
