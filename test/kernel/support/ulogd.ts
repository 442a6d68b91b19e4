// ulogd2 as an operator runs it for nftlb's connection log (README.md, Logging and tracing): bound to an NFLOG group,
// writing one text line per packet to a file (LOGEMU), but started by the test inside the lb namespace with its own
// config, log and pid, and stopped by pid.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { trackPid, untrackPid } from './cleanup.js';
import { sleep } from './child.js';
import { SYSTEM_ENV } from './system-path.js';
import type { Topology } from './topology.js';

// Where Debian's ulogd2 keeps its plugins (/usr/lib/<triplet>/ulogd), or null when it is not installed.
export function ulogdPluginDir(): string | null {
  const candidates = ['/usr/lib/ulogd', ...readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'ulogd'))];
  return candidates.find((d) => existsSync(join(d, 'ulogd_inppkt_NFLOG.so'))) ?? null;
}

/** A running ulogd and the lines it wrote. */
export interface Ulogd {
  /** The lines of its output file so far. */
  lines(): string[];
  /** Waits (bounded by tries, not by the machine's speed) until `pred` holds for the lines. */
  waitFor(pred: (lines: readonly string[]) => boolean, tries?: number): Promise<string[]>;
  stop(): Promise<void>;
}

// Starts ulogd in the lb namespace for NFLOG `group`, with its files in `dir`; resolves once it is in its main loop.
export async function startUlogd(topo: Topology, dir: string, group: number): Promise<Ulogd> {
  const plugins = ulogdPluginDir();
  if (plugins === null) throw new Error('ulogd2 is not installed (scripts/setup.sh test installs it)');
  const out = join(dir, 'nflog.log');
  const log = join(dir, 'ulogd.log');
  const conf = join(dir, 'ulogd.conf');
  const plugin = (name: string): string => `plugin="${join(plugins, `ulogd_${name}.so`)}"`;
  const text = [
    '[global]',
    `logfile="${log}"`,
    'loglevel=3',
    ...['inppkt_NFLOG', 'raw2packet_BASE', 'filter_IFINDEX', 'filter_IP2STR', 'filter_PRINTPKT', 'output_LOGEMU'].map(
      plugin,
    ),
    'stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU',
    '',
    '[log1]',
    `group=${group}`,
    // One netlink message per packet: without it the kernel batches them for up to a second.
    'netlink_qthreshold=1',
    '',
    '[emu1]',
    `file="${out}"`,
    'sync=1',
    '',
  ].join('\n');
  writeFileSync(conf, text);
  writeFileSync(out, '');
  const proc = execa('ip', ['netns', 'exec', topo.lb, 'ulogd', '-c', conf], {
    reject: false,
    env: SYSTEM_ENV,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const pid = proc.pid;
  trackPid(pid);
  let exited = false;
  const done = proc.then(() => {
    exited = true;
    untrackPid(pid);
  });
  const stop = async (): Promise<void> => {
    if (exited || pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    await Promise.race([done, sleep(3000)]);
    if (!exited) process.kill(pid, 'SIGKILL');
    await Promise.race([done, sleep(2000)]);
  };
  topo.defer(stop);
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  for (let i = 0; i < 100 && !read(log).includes('entering main loop'); i++) {
    if (exited) throw new Error(`ulogd exited: ${read(log)}`);
    await sleep(100);
  }
  if (!read(log).includes('entering main loop')) {
    await stop();
    throw new Error(`ulogd did not start: ${read(log)}`);
  }
  const lines = (): string[] =>
    read(out)
      .split('\n')
      .filter((l) => l.length > 0);
  return {
    lines,
    async waitFor(pred, tries = 100) {
      for (let i = 0; i < tries; i++) {
        if (pred(lines())) return lines();
        await sleep(100);
      }
      throw new Error(`ulogd lines never matched: ${JSON.stringify(lines())}`);
    },
    stop,
  };
}
