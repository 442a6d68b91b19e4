import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
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
  NFTLB_NODE: 'the cluster node this host is (--node wins); default: the hostname up to its first dot',
  NFTLB_CLUSTER_DIR:
    "one directory for the cluster daemons' files of this node: BIRD's control socket bird.ctl, conntrackd.conf, conntrackd.ctl, conntrackd.lock and nftlb's VRRP role file (several nodes on one host, tests); default: each daemon's own default path",
  NFTLB_BIRDC: 'the birdc program; default birdc',
  NFTLB_CONNTRACKD: 'the conntrackd program; default conntrackd',
} as const;

/** Where the cluster daemons keep their files by default (Debian 12's bird2 and conntrackd). */
export const CLUSTER_DEFAULTS = {
  birdSocket: '/run/bird/bird.ctl',
  conntrackdConfig: '/etc/conntrackd/conntrackd.conf',
  conntrackdSocket: '/var/run/conntrackd.ctl',
  conntrackdLock: '/var/lock/conntrack.lock',
} as const;

/** What nftlb uses of the host for a cluster (src/cluster/): which node it is, the engines' programs and files. */
export interface ClusterHost {
  /** The node named by --node or $NFTLB_NODE; undefined: the hostname decides. */
  readonly node: string | undefined;
  /** The hostname up to its first dot. */
  readonly hostname: string;
  /** $NFTLB_CLUSTER_DIR or --cluster-dir, when set (every file below is in it then). */
  readonly dir: string | undefined;
  readonly birdc: string;
  readonly birdSocket: string;
  readonly conntrackd: string;
  readonly conntrackdConfig: string;
  readonly conntrackdSocket: string;
  readonly conntrackdLock: string;
  /** Directory of nftlb's VRRP role file (written by `nftlb cluster notify`). */
  readonly roleDir: string;
}

/** Everything nftlb uses of the host, resolved once per run: the executor that runs programs, the programs, and the
 *  files. Operations and health take a Host; nothing else reads the environment. */
export interface Host {
  readonly exec: Executor;
  readonly nft: string;
  readonly conntrack: string;
  readonly flock: string;
  readonly lockFile: string;
  /** Directory of the record of the last apply (next to the lock: /run is emptied at boot, like the kernel's tables). */
  readonly runDir: string;
  readonly stateDir: string;
  readonly cluster: ClusterHost;
}

/** Command-line options that override the environment. */
export interface HostOptions {
  readonly lockFile?: string | undefined;
  readonly stateDir?: string | undefined;
  readonly node?: string | undefined;
  readonly clusterDir?: string | undefined;
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
    lockFile,
    runDir: dirname(lockFile),
    stateDir: o.stateDir ?? set(env['NFTLB_STATE_DIR']) ?? DEFAULT_STATE_DIR,
    cluster: clusterHost(env, o, dirname(lockFile)),
  };
}

// The cluster part of the host: a cluster directory puts every daemon file in it, else each has its default.
function clusterHost(env: NodeJS.ProcessEnv, o: HostOptions, runDir: string): ClusterHost {
  const dir = o.clusterDir ?? set(env['NFTLB_CLUSTER_DIR']);
  const at = (name: string, dflt: string): string => (dir === undefined ? dflt : join(dir, name));
  return {
    node: o.node ?? set(env['NFTLB_NODE']),
    hostname: hostname().split('.')[0] ?? '',
    dir,
    birdc: set(env['NFTLB_BIRDC']) ?? 'birdc',
    birdSocket: at('bird.ctl', CLUSTER_DEFAULTS.birdSocket),
    conntrackd: set(env['NFTLB_CONNTRACKD']) ?? 'conntrackd',
    conntrackdConfig: at('conntrackd.conf', CLUSTER_DEFAULTS.conntrackdConfig),
    conntrackdSocket: at('conntrackd.ctl', CLUSTER_DEFAULTS.conntrackdSocket),
    conntrackdLock: at('conntrackd.lock', CLUSTER_DEFAULTS.conntrackdLock),
    roleDir: dir ?? runDir,
  };
}
