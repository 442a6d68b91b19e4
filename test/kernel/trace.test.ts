// nftlb trace with real connections: each printed line names the backend the connection reached and the address the
// backend saw (the probe's own report), the filters hold, and no trace rule stays in the table once the command ends:
// by itself, on SIGTERM, and after SIGKILL once the next apply or trace ran (which also ends the orphaned monitor).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { LineReader, sleep } from './support/child.js';
import { trackPid, untrackPid } from './support/cleanup.js';
import { probe, type ProbeResult } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { MAIN, nftlb, workDir, writeConfig } from './support/ops.js';
import { SYSTEM_ENV } from './support/system-path.js';
import { withTopology, type Topology } from './support/topology.js';

const config = (topo: Topology): string => `
services:
  - name: web
    vip: [${topo.vip4}, "${topo.vip6}"]
    port: 80
    backends:
      - { address: ${topo.backendV4[0]}, port: 8080 }
      - { address: ${topo.backendV4[1]}, port: 8080 }
      - { address: ${topo.backendV4[2]}, port: 8080, weight: 2 }
      - { address: "${topo.backendV6[0]}", port: 8080 }
  - name: mail
    vip: ${topo.vip4}
    port: 25
    persistence: {}
    nat: none
    backends:
      - { address: ${topo.backendV4[0]}, port: 8080 }
      - { address: ${topo.backendV4[1]}, port: 8080 }
`;

interface Traced {
  kind: 'connection';
  client: { address: string; port: number | null };
  service: string | null;
  scheduler: string | null;
  selector: { kind: string; value?: number; mark?: number | null } | null;
  backend: { address: string; port: number | null } | null;
  nat: { address: string; port: number | null } | null;
  outcome: string;
}

const hostPort = (e: { address: string; port: number | null } | null): string | null =>
  e === null ? null : e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

/** A running `nftlb trace`. */
interface TraceRun {
  pid: number;
  stdout: LineReader;
  /** stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's 128 + n). */
  exited: Promise<number>;
}

// Starts `nftlb trace ARGS` in the lb namespace and waits for it to say that it traces.
async function startTrace(topo: Topology, env: Record<string, string>, args: string[]): Promise<TraceRun> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const proc = execa('ip', ['netns', 'exec', topo.lb, 'env', ...vars, process.execPath, MAIN, 'trace', ...args], {
    reject: false,
    env: SYSTEM_ENV,
    buffer: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const pid = proc.pid!;
  trackPid(pid);
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c: string) => void (stderr += c));
  const exited = proc.then((r) => {
    untrackPid(pid);
    return r.exitCode ?? 128 + (r.signal === 'SIGKILL' ? 9 : r.signal === 'SIGTERM' ? 15 : 0);
  });
  topo.defer(async () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended
    }
    await exited;
  });
  const run = { pid, stdout: new LineReader(proc.stdout, 'nftlb trace'), stderr: () => stderr, exited };
  for (let i = 0; i < 300 && !stderr.includes('nftlb trace: tracing'); i++) {
    if (await Promise.race([exited.then(() => true), sleep(100).then(() => false)]))
      throw new Error(`nftlb trace ended before tracing: ${stderr}`);
  }
  if (!stderr.includes('nftlb trace: tracing')) throw new Error(`nftlb trace did not start: ${stderr}`);
  return run;
}

// The trace objects of the live table (chains named trace_*, and jumps to trace_mark).
async function traceObjects(topo: Topology): Promise<string[]> {
  const listing = (await topo.exec(topo.lb, ['nft', 'list', 'table', 'inet', 'nftlb'])).stdout;
  return listing.split('\n').filter((l) => /chain trace_|jump trace_mark/.test(l));
}

// The processes left in the lb namespace (an orphaned `nft monitor` would show here), by command name.
async function nsProcesses(topo: Topology): Promise<string[]> {
  const pids = (await execa('ip', ['netns', 'pids', topo.lb], { env: SYSTEM_ENV, reject: false })).stdout;
  const out: string[] = [];
  for (const pid of pids.split('\n').filter((x) => x !== '')) {
    const comm = await execa('cat', [`/proc/${pid}/comm`], { reject: false });
    if (comm.exitCode === 0) out.push(`${pid} ${comm.stdout.trim()}`);
  }
  return out;
}

// Waits (bounded by tries) until no process is left in the lb namespace; kills what is left after that (teardown).
async function noProcesses(topo: Topology): Promise<string[]> {
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = await nsProcesses(topo);
    if (left.length === 0) return left;
    await sleep(100);
  }
  for (const l of left) {
    try {
      const pid = Number(l.split(' ')[0]);
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return left;
}

kernelTest('kernel trace: the printed backend and NAT address are where each connection went', async (t) => {
  await withTopology({ backends4: 3, backends6: 1, clients: 3 }, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080]));
    const file = writeConfig(dir, 'nftlb.yaml', config(topo));
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.ok);

    // Every service: 8 IPv4 connections (weighted round robin over three backends), 2 IPv6.
    const run = await startTrace(topo, env, ['-c', file, '--count', '10', '--seconds', '120', '--json']);
    const sent: ProbeResult[] = [
      ...(await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 8 })),
      ...(await probe(topo, { target: topo.vip6, port: 80, proto: 'tcp', count: 2 })),
    ];
    const lines: Traced[] = [];
    for (let i = 0; i < 10; i++) lines.push(JSON.parse(await run.stdout.next(15000)) as Traced);
    // The last line is the --json envelope, the summary.
    t.like(JSON.parse(await run.stdout.next(15000)), {
      command: 'trace',
      result: 'traced',
      exitCode: 0,
      error: null,
      kind: 'summary',
      connections: 10,
      ended: 'count',
    });
    t.is(await run.exited, EXIT.ok, run.stderr());
    t.deepEqual(
      lines.map((l) => [l.service, l.outcome, hostPort(l.backend), l.nat?.address]),
      sent.map((r) => ['web', 'forwarded', r.backend, r.peer]),
    );
    t.deepEqual(
      lines.map((l) => l.client.address),
      sent.map((r) => r.source),
    );
    t.true(new Set(sent.map((r) => r.backend)).size === 4, JSON.stringify(sent));
    // The selector value is the round robin position: backend ids 1,2,3 take slots (3 has weight 2) in turn.
    t.true(lines.slice(0, 8).every((l) => l.scheduler === 'round-robin' && l.selector?.kind === 'scheduler'));
    t.regex(run.stderr(), /10 connections traced \(count reached\); trace rules removed/);
    t.deepEqual(await traceObjects(topo), []);
    t.deepEqual(await noProcesses(topo), []);

    // --service and --client: only mail's connections from one client are traced; a persistent client's second
    // connection is chosen by its entry. Without NAT the backend sees the client itself.
    const [c0, c1] = topo.clientV4 as [string, string];
    const mail = await startTrace(topo, env, ['-c', file, '--service', 'mail', '--client', c1, '--count', '2']);
    const other = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 2, sources: [c1] });
    const notMine = await probe(topo, { target: topo.vip4, port: 25, proto: 'tcp', count: 2, sources: [c0] });
    const mine = await probe(topo, { target: topo.vip4, port: 25, proto: 'tcp', count: 2, sources: [c1] });
    t.is([...other, ...notMine, ...mine].filter((r) => r.backend === null).length, 0);
    const text = [await mail.stdout.next(15000), await mail.stdout.next(15000)];
    t.is(await mail.exited, EXIT.ok, mail.stderr());
    const arrow = (r: ProbeResult, selector: RegExp): RegExp =>
      new RegExp(
        `^${c1.replace(/\./g, '\\.')}:\\d+ -> ${topo.vip4.replace(/\./g, '\\.')}:25 tcp -> mail -> ${selector.source} -> ${r.backend!.replace(/\./g, '\\.')} -> ${c1.replace(/\./g, '\\.')}:\\d+$`,
      );
    t.regex(text[0]!, arrow(mine[0]!, /round-robin \d \(mark 0x[0-9a-f]{8}\)/));
    t.regex(text[1]!, arrow(mine[1]!, /persistence/));
    t.deepEqual(await traceObjects(topo), []);
  });
});

kernelTest('kernel trace: no trace rule stays after SIGTERM, nor after SIGKILL once apply or trace ran', async (t) => {
  await withTopology({ backends4: 2, backends6: 0, clients: 1 }, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
    await startBackends(topo, listenersFor(topo.backendV4, [8080]));
    const file = writeConfig(
      dir,
      'nftlb.yaml',
      `services:\n  - { name: web, vip: ${topo.vip4}, port: 80, backends: [{ address: ${topo.backendV4[0]}, port: 8080 }, { address: ${topo.backendV4[1]}, port: 8080 }] }\n`,
    );
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.ok);
    // The ruleset without its counters (connections move them): what a trace must leave as it found it.
    const ruleset = async (): Promise<string> =>
      (await topo.exec(topo.lb, ['nft', 'list', 'ruleset'])).stdout.replace(
        /counter packets \d+ bytes \d+/g,
        'counter',
      );
    const before = await ruleset();
    const args = ['-c', file, '--seconds', '600'];

    // SIGTERM: the command removes its rules and ends with 0.
    const term = await startTrace(topo, env, args);
    t.not((await traceObjects(topo)).length, 0);
    process.kill(term.pid, 'SIGTERM');
    t.is(await term.exited, EXIT.ok, term.stderr());
    t.regex(term.stderr(), /\(stopped\); trace rules removed/);
    t.deepEqual(await traceObjects(topo), []);
    t.is(await ruleset(), before);
    t.deepEqual(await noProcesses(topo), []);

    // SIGKILL: the rules stay until the next apply, which removes them though the config is unchanged (exit 9);
    // the ruleset events of that removal also end the orphaned nft monitor.
    const kill1 = await startTrace(topo, env, args);
    process.kill(kill1.pid, 'SIGKILL');
    t.is(await kill1.exited, 137);
    t.not((await traceObjects(topo)).length, 0);
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.unchanged);
    t.deepEqual(await traceObjects(topo), []);
    t.is(await ruleset(), before);
    t.deepEqual(await noProcesses(topo), []);

    // SIGKILL, then the next trace: it removes the dead one's rules, traces, and leaves nothing behind either.
    const kill2 = await startTrace(topo, env, args);
    process.kill(kill2.pid, 'SIGKILL');
    t.is(await kill2.exited, 137);
    const next = await startTrace(topo, env, ['-c', file, '--count', '1']);
    const r = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 1 });
    t.regex(
      await next.stdout.next(15000),
      new RegExp(` -> web -> round-robin \\d \\(mark 0x[0-9a-f]{8}\\) -> ${r[0]!.backend!.replace(/\./g, '\\.')} -> `),
    );
    t.is(await next.exited, EXIT.ok, next.stderr());
    t.deepEqual(await traceObjects(topo), []);
    t.is(await ruleset(), before);
    t.deepEqual(await noProcesses(topo), []);

    // A trace that runs is not taken over: a second one is refused (exit 8) and the first keeps its rules.
    const first = await startTrace(topo, env, args);
    const second = await nftlb(topo, ['trace', '-c', file, '--seconds', '5'], env);
    t.is(second.exitCode, EXIT.lockBusy, second.stderr);
    t.regex(second.stderr, new RegExp(`another nftlb trace \\(pid ${first.pid}\\) is tracing table inet nftlb`));
    t.not((await traceObjects(topo)).length, 0);
    // apply of the unchanged config while it runs: a no-op (the trace's own transactions carried apply's record), the
    // running trace's rules stay.
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.unchanged);
    t.not((await traceObjects(topo)).length, 0);
    process.kill(first.pid, 'SIGINT');
    t.is(await first.exited, EXIT.ok);
    t.deepEqual(await traceObjects(topo), []);

    // A reload of a changed config takes the trace rules with the table: the trace ends then (--seconds 600 would be
    // its limit), and says so.
    const reloaded = await startTrace(topo, env, [...args, '--json']);
    const changed = writeConfig(dir, 'changed.yaml', readFileSync(file, 'utf8').replace('port: 80,', 'port: 81,'));
    t.is((await nftlb(topo, ['apply', '-c', changed], env)).exitCode, EXIT.ok);
    t.is(await reloaded.exited, EXIT.ok, reloaded.stderr());
    t.like(JSON.parse(await reloaded.stdout.next(15000)), { kind: 'summary', ended: 'reload', reloaded: true });
    t.deepEqual(await noProcesses(topo), []);
  });
});
