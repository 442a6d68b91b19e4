// Support of the cluster kernel tests: namespaces with their own names, the daemons the tests start in them (BIRD,
// keepalived, conntrackd, backend servers, nftlb health), each in the foreground with its own files and stopped by pid
// on teardown (also on failure), bounded waits for events, and the nftlb CLI run inside a namespace.
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineReader, sleep, supportScript } from './child.js';
import { trackPid, untrackPid } from './cleanup.js';
import { MAIN } from './ops.js';
import { SYSTEM_ENV } from './system-path.js';
import { newPrefix, withNamespaces, type ExecResult, type Namespaces } from './topology.js';

/** The namespaces of one cluster test: short name -> full name, and the commands confined to them. */
export interface Net extends Namespaces {
  readonly ns: Readonly<Record<string, string>>;
  /** A scratch directory of this test (configs, sockets, pid files), one subdirectory per node. */
  readonly dir: string;
}

// Creates the namespaces (short names), runs fn, stops every daemon and deletes the namespaces afterwards.
export async function withNet<T>(short: readonly string[], dir: string, fn: (net: Net) => Promise<T>): Promise<T> {
  const prefix = newPrefix();
  const ns: Record<string, string> = {};
  for (const s of short) ns[s] = `${prefix}${s}`;
  return withNamespaces(prefix, ns, (n) => fn({ ...n, ns, dir }));
}

/** A process started inside a namespace. */
export interface Daemon {
  readonly pid: number | undefined;
  /** Lines it printed (stdout and stderr, the last 400). */
  log(): string;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

// Starts argv in namespace `ns` in the foreground; it is stopped on teardown at the latest.
export function startDaemon(net: Net, ns: string, argv: readonly string[], what: string): Daemon {
  const proc = execa('ip', ['netns', 'exec', net.ns[ns] ?? ns, ...argv], {
    reject: false,
    env: SYSTEM_ENV,
    buffer: false,
    // Kept open: the test's own servers take the end of their stdin for the end of the test.
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const pid = proc.pid;
  trackPid(pid);
  proc.stdin.on('error', () => undefined);
  const lines: string[] = [];
  const keep = (c: string): void => {
    for (const l of c.split('\n')) if (l !== '') lines.push(`${what}: ${l}`);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  proc.stdout.setEncoding('utf8').on('data', keep);
  proc.stderr.setEncoding('utf8').on('data', keep);
  let gone = false;
  const exited = proc.then(() => {
    gone = true;
    untrackPid(pid);
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (gone || pid === undefined) return;
    kill(pid, signal);
    if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) {
      kill(pid, 'SIGKILL');
      await Promise.race([exited, sleep(3000)]);
    }
  };
  net.defer(() => stop());
  return { pid, log: () => lines.join('\n'), exited, alive: () => !gone, stop };
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // exited meanwhile
  }
}

// Polls `check` every intervalMs until it returns a value (not undefined) or timeoutMs passes; then throws with what
// the last check saw.
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  o: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 60000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${o.timeoutMs ?? 60000} ms${last === undefined ? '' : ` (${String(last)})`}`,
      );
    await sleep(o.intervalMs ?? 200);
  }
}

// Runs the nftlb CLI in a namespace with extra environment (never throws on a non-zero exit).
export function nftlbIn(
  net: Net,
  ns: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 60000,
): Promise<ExecResult> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return net.exec(net.ns[ns] ?? ns, ['env', ...vars, process.execPath, MAIN, ...args], { reject: false, timeoutMs });
}

// The nftlb command a daemon or keepalived's notify script runs: node and the compiled CLI, with the PATH of the tests.
export function nftlbArgv(): string[] {
  return ['/usr/bin/env', `PATH=${SYSTEM_ENV.PATH}`, process.execPath, MAIN];
}

// A subdirectory of the test's scratch directory.
export function nodeDir(net: Net, name: string): string {
  const d = join(net.dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

// Writes a file into a directory and returns its path.
export function put(dir: string, name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

// Starts the test backend server (support/backend-server.js) in a namespace and waits for it to listen.
export async function startServer(net: Net, ns: string, args: readonly string[], what: string): Promise<Daemon> {
  const d = startDaemon(net, ns, [process.execPath, supportScript('backend-server.js'), ...args], what);
  await waitFor(`${what} listening`, async () => (d.log().includes('READY') ? true : undefined), { timeoutMs: 20000 });
  return d;
}

/** One UDP exchange of udp-flows.js. */
export interface FlowResult {
  readonly source: string;
  readonly sport: number;
  readonly backend: string | null;
  readonly error?: string;
}

// Sends one datagram per (source, port) from namespace ns to target:port (support/udp-flows.js).
export async function udpFlows(
  net: Net,
  ns: string,
  o: { target: string; port: number; flows: readonly (readonly [string, number])[]; timeoutMs?: number },
): Promise<FlowResult[]> {
  const r = await net.exec(net.ns[ns] ?? ns, [process.execPath, supportScript('udp-flows.js')], {
    input: JSON.stringify(o),
    timeoutMs: 150000,
  });
  return (JSON.parse(r.stdout) as { results: FlowResult[] }).results;
}

/** One connection's answer from conn-pool.js. */
export interface PoolResult {
  readonly i: number;
  readonly backend: string | null;
  readonly error?: string;
}

/** Many TCP connections held in a namespace (support/conn-pool.js). */
export interface ConnPool {
  /** Opens every connection of the spec, in order: the backend each reached. */
  open(): Promise<PoolResult[]>;
  /** A line over every open connection: the backend that echoed it, or the error. */
  ping(): Promise<PoolResult[]>;
  /** n new connections from source, ports first.., closed at once. */
  burst(source: string, n: number, first: number): Promise<PoolResult[]>;
  stop(): Promise<void>;
}

// Starts conn-pool.js in namespace ns with the given connections (source address, source port).
export function connPool(
  net: Net,
  ns: string,
  spec: { target: string; port: number; conns: readonly (readonly [string, number])[]; timeoutMs?: number },
): ConnPool {
  const proc = execa(
    'ip',
    ['netns', 'exec', net.ns[ns] ?? ns, process.execPath, supportScript('conn-pool.js'), JSON.stringify(spec)],
    { reject: false, env: SYSTEM_ENV, buffer: false, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' },
  );
  const pid = proc.pid;
  trackPid(pid);
  proc.stdin.on('error', () => undefined);
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c: string) => {
    if (stderr.length < 20000) stderr += c;
  });
  const lines = new LineReader(proc.stdout, 'conn-pool');
  let gone = false;
  const exited = proc.then(() => {
    gone = true;
    untrackPid(pid);
  });
  const ask = async (cmd: string, kind: string, timeoutMs: number): Promise<PoolResult[]> => {
    proc.stdin.write(`${cmd}\n`);
    const line = await lines.next(timeoutMs).catch((e: unknown) => {
      throw new Error(`conn-pool ${cmd}: ${(e as Error).message}\n${stderr}`);
    });
    const r = JSON.parse(line) as { kind: string; results: PoolResult[] };
    if (r.kind !== kind) throw new Error(`conn-pool ${cmd}: answered ${line}`);
    return r.results;
  };
  const stop = async (): Promise<void> => {
    if (gone || pid === undefined) return;
    proc.stdin.end();
    if (!(await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]))) {
      kill(pid, 'SIGKILL');
      await Promise.race([exited, sleep(3000)]);
    }
  };
  net.defer(stop);
  const perConn = (spec.timeoutMs ?? 5000) + 1000;
  return {
    open: () => ask('open', 'open', spec.conns.length * perConn + 10000),
    ping: () => ask('ping', 'ping', perConn + 10000),
    burst: (source, n, first) => ask(`burst ${source} ${n} ${first}`, 'burst', 15000),
    stop,
  };
}

// True when every program is installed (scripts/setup.sh test installs bird2, keepalived and conntrackd); otherwise the
// test fails in CI and is skipped loudly elsewhere, as kernel tests without a kernel are.
export async function requireTools(t: ExecutionContext, tools: readonly string[]): Promise<boolean> {
  const missing: string[] = [];
  for (const tool of tools) {
    const r = await execa('sh', ['-c', `command -v ${tool}`], { reject: false, env: SYSTEM_ENV });
    if (r.exitCode !== 0) missing.push(tool);
  }
  if (missing.length === 0) return true;
  const why = `${missing.join(', ')} not installed (scripts/setup.sh test installs bird2, keepalived, conntrackd)`;
  if (process.env.CI === 'true') {
    t.fail(why);
    return false;
  }
  console.error(`KERNEL TEST SKIPPED: ${why} (${t.title})`);
  t.log(`KERNEL TEST SKIPPED: ${why}`);
  t.pass();
  return false;
}
