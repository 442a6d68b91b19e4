import type { NftlbErrorCode } from '../common/errors.js';

// Exit codes of every nftlb command (documented in README.md and nftlb(8)); scripts may rely on them.
export const EXIT = {
  /** Success (`nftlb diff`: applying the config would change nothing). */
  ok: 0,
  /** A bug in nftlb (an unexpected internal error); nothing else exits 1. */
  internal: 1,
  /** Bad command line (unknown option, missing argument). */
  usage: 2,
  /** The config has errors (all of them are printed on stderr). */
  configInvalid: 3,
  /** The config file cannot be read: missing, unreadable, not a regular file (a FIFO, a device, a directory), or over
   *  the size limit; or a file the config names cannot be used (the CA file of an https health check). */
  configRead: 4,
  /** The requested output cannot express the config (e.g. iptables and maglev). */
  unsupported: 5,
  /** nft refused the script or failed. */
  nftFailed: 6,
  /** A program nftlb needs (nft, flock, conntrack, ...) is not installed. */
  toolMissing: 7,
  /** Another nftlb apply holds the lock. */
  lockBusy: 8,
  /** `nftlb apply`: nothing changed since the last load (its record proves it); nothing was loaded. */
  unchanged: 9,
  /** `nftlb doctor`: a check failed (nftlb cannot work on this host as it is). */
  blocked: 10,
  /** `nftlb import`: the config was printed, but some rules were not understood (listed on stderr). */
  importIncomplete: 11,
  /** `nftlb diff`: applying the config would change the live table. */
  differs: 12,
  /** The host refused a file operation (read-only or full file system, a directory that is a file, permissions, a lock
   *  file flock cannot lock or a $NFTLB_FLOCK that is not flock), or
   *  `health --metrics-listen` cannot listen on its address (in use, not this host's), or stdout cannot be written
   *  (`nftlb render > file` on a full file system). */
  hostFault: 13,
  /** A table of nftlb's name exists that nftlb did not make; nothing was changed (apply --force takes it over). */
  foreignTable: 14,
  /** `nftlb backend`: the config has no such service, or no such backend in it (or the address names several
   *  backends: give ADDRESS:PORT); nothing was changed. */
  notFound: 15,
  /** A cluster engine (BIRD through birdc, conntrackd) refused a command or is not running; the message names it. */
  engineFailed: 16,
  /** The reader of stdout went away before all output was written (`nftlb render | head`): as a program killed by
   *  SIGPIPE (128 + 13), quietly. */
  brokenPipe: 141,
} as const;

// The exit code for an error code.
export function exitCodeFor(code: NftlbErrorCode): number {
  switch (code) {
    case 'usage':
      return EXIT.usage;
    case 'config-invalid':
      return EXIT.configInvalid;
    case 'config-read':
      return EXIT.configRead;
    case 'unsupported':
      return EXIT.unsupported;
    case 'nft-failed':
      return EXIT.nftFailed;
    case 'tool-missing':
      return EXIT.toolMissing;
    case 'host-fault':
      return EXIT.hostFault;
    case 'foreign-table':
      return EXIT.foreignTable;
    case 'not-found':
      return EXIT.notFound;
    case 'engine-failed':
      return EXIT.engineFailed;
    case 'lock-busy':
      return EXIT.lockBusy;
    case 'internal':
      return EXIT.internal;
  }
}
