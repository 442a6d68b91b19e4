import { dirname } from 'node:path';
import type { Executor } from './executor.js';

/** Where nftlb looks for its config when -c is not given. */
export const DEFAULT_CONFIG_PATH = '/etc/nftlb/nftlb.yaml';
/** Default lock file of `nftlb apply`, `remove` and `health`; override with --lock-file or $NFTLB_LOCK. */
export const DEFAULT_LOCK_FILE = '/run/nftlb/apply.lock';
/** Default directory of the health state; override with --state-dir or $NFTLB_STATE_DIR. */
export const DEFAULT_STATE_DIR = '/var/lib/nftlb';

/** The environment variables nftlb reads, with what each sets (the README and nftlb(8) list the same). */
export const ENVIRONMENT = {
  NFTLB_NFT: 'the nft program (a path, or a name looked up in PATH); default nft',
  NFTLB_CONNTRACK: 'the conntrack program; default conntrack',
  NFTLB_FLOCK: 'the flock program that holds the apply lock; default flock',
  NFTLB_LOCK: `the lock file shared by apply, remove and health; default ${DEFAULT_LOCK_FILE}`,
  NFTLB_STATE_DIR: `the health state directory; default ${DEFAULT_STATE_DIR}`,
} as const;

/** Everything nftlb uses of the host, resolved once per run: the executor that runs programs, the programs, and the
 *  files. Operations and health take a Host; nothing else reads the environment. */
export interface Host {
  readonly exec: Executor;
  readonly nft: string;
  readonly conntrack: string;
  readonly flock: string;
  /** perl, which asks the kernel for its ruleset generation (src/system/genid.ts). */
  readonly perl: string;
  readonly lockFile: string;
  /** Directory of the record of the last apply (next to the lock: /run is emptied at boot, like the kernel's tables). */
  readonly runDir: string;
  readonly stateDir: string;
}

/** Command-line options that override the environment. */
export interface HostOptions {
  readonly lockFile?: string | undefined;
  readonly stateDir?: string | undefined;
}

const set = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

// Resolves the host once: options first, then NFTLB_* variables, then the defaults.
export function resolveHost(exec: Executor, env: NodeJS.ProcessEnv, o: HostOptions = {}): Host {
  const lockFile = o.lockFile ?? set(env['NFTLB_LOCK']) ?? DEFAULT_LOCK_FILE;
  return {
    exec,
    nft: set(env['NFTLB_NFT']) ?? 'nft',
    conntrack: set(env['NFTLB_CONNTRACK']) ?? 'conntrack',
    flock: set(env['NFTLB_FLOCK']) ?? 'flock',
    perl: 'perl',
    lockFile,
    runDir: dirname(lockFile),
    stateDir: o.stateDir ?? set(env['NFTLB_STATE_DIR']) ?? DEFAULT_STATE_DIR,
  };
}
