// Helpers of the health kernel tests: run `nftlb health` / `nftlb status` inside the lb namespace with a private state
// directory and lock, and summarize where probe() connections landed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { MAIN } from './ops.js';
import { listenersFor, startBackends } from './backends.js';
import { LineReader, sleep } from './child.js';
import { probe, tally, type ProbeResult } from './client.js';
import type { ExecResult, Topology } from './topology.js';

/** A scratch directory with the config, the state dir and the lock of one test. */
export interface HealthEnv {
  readonly dir: string;
  readonly config: string;
  readonly env: Record<string, string>;
  write(text: string): void;
}

// Creates the scratch directory and writes the first config.
export function healthEnv(text: string): HealthEnv {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-khealth-'));
  const config = join(dir, 'nftlb.yaml');
  writeFileSync(config, text);
  return {
    dir,
    config,
    env: { NFTLB_STATE_DIR: join(dir, 'state'), NFTLB_LOCK: join(dir, 'run', 'apply.lock') },
    write: (t) => writeFileSync(config, t),
  };
}

// Runs `nftlb <args> -c <config>` in the lb namespace; throws with its stderr unless it exits 0.
export async function nftlbIn(topo: Topology, h: HealthEnv, args: string[]): Promise<ExecResult> {
  const vars = Object.entries(h.env).map(([k, v]) => `${k}=${v}`);
  const r = await topo.exec(topo.lb, ['env', ...vars, process.execPath, MAIN, ...args, '-c', h.config], {
    reject: false,
    timeoutMs: 60000,
  });
  if (r.exitCode !== 0) throw new Error(`nftlb ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return r;
}

// One `nftlb health --once --json` round; returns its JSON report.
export async function healthRound(
  topo: Topology,
  h: HealthEnv,
): Promise<{
  transitions: { endpoint: string; from: string; to: string; reason: string }[];
  action: string;
  why: string;
  reset: number[];
}> {
  return JSON.parse((await nftlbIn(topo, h, ['health', '--once', '--json'])).stdout) as never;
}

// `nftlb health --status --json` rows by endpoint.
export async function statusOf(
  topo: Topology,
  h: HealthEnv,
): Promise<Map<string, { health: string; active: boolean; reason: string; state: string }>> {
  const rows = (
    JSON.parse((await nftlbIn(topo, h, ['health', '--status', '--json'])).stdout) as {
      backends: { endpoint: string; health: string; active: boolean; reason: string; state: string }[];
    }
  ).backends;
  return new Map(rows.map((r) => [r.endpoint, r]));
}

// Backends that answered, without failures, as a sorted list; failures listed separately.
export function landed(results: readonly ProbeResult[]): { backends: string[]; errors: number } {
  const t = tally(results);
  const errors = t.get('error') ?? 0;
  t.delete('error');
  return { backends: [...t.keys()].sort(), errors };
}

// A one-service config (table hc, VIP:80, tcp check every second, rise 2 / fall 2) with the given backends and extra keys.
export const healthConfig = (topo: Topology, backends: string[], extra = ''): string =>
  [
    'table: hc',
    'services:',
    '  - name: web',
    `    vip: ${topo.vip4}`,
    '    port: 80',
    '    health: { type: tcp, interval: 1, timeout: 0.5, rise: 2, fall: 2 }',
    extra,
    '    backends:',
    ...backends.map((b) => `      - ${b}`),
  ]
    .filter((l) => l !== '')
    .join('\n');

// n TCP connections to the VIP's port 80 from ten client addresses.
export const web = (topo: Topology, n: number): Promise<ProbeResult[]> =>
  probe(topo, {
    target: topo.vip4,
    port: 80,
    proto: 'tcp',
    count: n,
    sources: topo.clientV4.slice(0, 10),
    timeoutMs: 2000,
  });

// The topology's three IPv4 backend addresses, a web server (port 8080) on each, and the health env of the one-service
// config that lists them as `backends` writes them (plain backends by default), with `extra` service keys.
export async function webBackends(
  topo: Topology,
  backends: (b: readonly [string, string, string]) => string[] = (b) => b.map((a) => `{ address: ${a}, port: 8080 }`),
  extra = '',
): Promise<{
  b: [string, string, string];
  servers: Awaited<ReturnType<typeof startBackends>>;
  h: HealthEnv;
}> {
  const b = topo.backendV4.slice(0, 3) as [string, string, string];
  const servers = await startBackends(topo, listenersFor(b, [8080]));
  return { b, servers, h: healthEnv(healthConfig(topo, backends(b), extra)) };
}

// Reads lines until one matches, within a bounded time.
export async function waitFor(lines: LineReader, pattern: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`no line matching ${pattern} within ${ms} ms`);
    const l = await lines.next(left);
    if (pattern.test(l)) return l;
  }
}

/** A running `nftlb health --watch` in the lb namespace. */
export interface Watching {
  readonly pid: number;
  /** Its stderr, line by line. */
  readonly lines: LineReader;
  /** Sends SIGTERM; resolves with its exit code, or null when it has not exited within 30 s. */
  stop(): Promise<number | null>;
}

// Starts `nftlb health --watch -c <config>` in the lb namespace; teardown kills it if the test has not stopped it.
export function startWatch(topo: Topology, h: HealthEnv): Watching {
  const env = Object.entries(h.env).map(([k, v]) => `${k}=${v}`);
  const proc = execa(
    'ip',
    ['netns', 'exec', topo.lb, 'env', ...env, process.execPath, MAIN, 'health', '--watch', '-c', h.config],
    { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false },
  );
  let exited = false;
  const done = proc.then((r) => ((exited = true), r));
  topo.defer(async () => {
    if (!exited && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    await Promise.race([done, sleep(3000)]);
  });
  return {
    pid: proc.pid!,
    lines: new LineReader(proc.stderr!, 'nftlb health --watch'),
    stop: async () => {
      process.kill(proc.pid!, 'SIGTERM');
      const r = await Promise.race([done, sleep(30000).then(() => null)]);
      return r === null ? null : (r.exitCode ?? null);
    },
  };
}
