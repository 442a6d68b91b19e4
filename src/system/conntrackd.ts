import { NftlbError } from '../common/errors.js';
import type { Host } from './host.js';

// conntrackd's client commands (conntrackd -C CONFIG -X): the daemon's UNIX socket is named in its config, so each
// command reads that file first.

/** The commands a VRRP transition sends (conntrack-tools' primary-backup.sh does the same). */
export const CONNTRACKD_STEPS = {
  /** Commit the external cache (the other node's connections) into the kernel table. */
  commit: '-c',
  /** Flush the internal and external caches. */
  flush: '-f',
  /** Resynchronize the internal cache with the kernel table. */
  resync: '-R',
  /** Send a bulk update to the backup. */
  bulk: '-B',
  /** Ask the master for a full resynchronization. */
  request: '-n',
  /** Shorten the kernel's conntrack timers (zombie entries of a former master go away). */
  shorten: '-t',
  /** Statistics: is the daemon there. */
  stats: '-s',
} as const;

export type ConntrackdStep = keyof typeof CONNTRACKD_STEPS;

// Runs one conntrackd client command; a failure (no daemon, a refused command) is an engine-failed error.
export async function conntrackdCommand(host: Host, step: ConntrackdStep): Promise<void> {
  const c = host.cluster;
  const args = ['-C', c.conntrackdConfig, CONNTRACKD_STEPS[step]];
  const r = await host.exec.run(c.conntrackd, args);
  if (r.exitCode !== 0)
    throw new NftlbError(
      'engine-failed',
      `conntrackd ${args.join(' ')} (${step}): ${lastLine(`${r.stderr}${r.stdout}`) || `exit ${r.exitCode}`}`,
    );
}

const lastLine = (s: string): string =>
  s
    .trim()
    .split('\n')
    .slice(-1)[0]!
    .replace(/^\[[^\]]*\] \(pid=\d+\) /, '');
