import { NftlbError } from '../common/errors.js';
import { parsePrefix } from '../model/address.js';
import type { Prefix } from '../model/types.js';
import type { TableRef } from '../nft/ast.js';
import { renderCommands } from '../nft/commands.js';
import { ident } from '../nft/names.js';
import { renderNftScript } from '../nft/script.js';
import { TraceAssembler, type TracedConnection } from '../nft/trace-events.js';
import {
  markBits,
  traceGoneEvent,
  traceInstall,
  traceObjects,
  traceProbe,
  traceRemoval,
  type TraceOwner,
} from '../nft/trace.js';
import type { Plan, PlannedService } from '../plan/types.js';
import { loadModel } from '../system/config-file.js';
import type { LineStream } from '../system/executor.js';
import type { Host } from '../system/host.js';
import { acquireLock } from '../system/lock.js';
import { foreignTable, loadScript, nftFailed, readLiveTable } from '../system/nft.js';
import { listWithHandles, loadWithEcho, startMonitor } from '../system/nft-trace.js';
import { processAlive, processStart } from '../system/process.js';
import { carryNoopRecord, judgeNoop, loadedFingerprint, readNoopRecord } from './noop.js';
import { desiredPlan } from './desired.js';

// `nftlb trace` (README.md, Logging and tracing): nftrace on for the matching new connections, `nft monitor` read until
// enough connections were seen, the time is up or the caller aborts, then the trace objects removed, whatever ended it.

/** What to trace and for how long. */
export interface TraceOptions {
  readonly config: string;
  readonly service?: string;
  /** An address or a prefix. */
  readonly client?: string;
  /** Stop after this many connections. */
  readonly count: number;
  /** Stop after this many seconds. */
  readonly seconds: number;
  /** Seconds to wait for the apply lock (held only while installing and removing). */
  readonly waitSeconds: number;
  /** Aborting ends the trace (Ctrl-C, SIGTERM); the trace objects are removed all the same. */
  readonly signal?: AbortSignal;
}

/** A traced connection with the scheduler of its service. */
export interface TracedView extends TracedConnection {
  readonly scheduler: string | null;
}

/** What the caller hears while the trace runs. */
export interface TraceHooks {
  /** The trace rules are in and `nft monitor` listens: connections from now on are traced. */
  ready(what: { table: string; service: string | null; client: string | null; count: number; seconds: number }): void;
  connection(c: TracedView): void;
  warning(message: string): void;
}

/** How a trace ended. */
export interface TraceSummary {
  readonly table: string;
  readonly connections: number;
  readonly ended: 'count' | 'seconds' | 'signal' | 'monitor' | 'reload';
  /** The trace objects were gone before the end: the table was replaced meanwhile (a reload ends the tracing). */
  readonly reloaded: boolean;
}

/** How long a connection may stay silent before it is printed as far as it got (its packet left by no chain of ours). */
const IDLE_MS = 2000;
/** Probes of the monitor: each adds and deletes an empty chain and waits this long for the monitor to report it. */
const PROBES = 50;
const PROBE_WAIT_MS = 200;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// This process as a trace owner.
async function self(): Promise<TraceOwner> {
  const start = await processStart(process.pid);
  if (start === null) throw new NftlbError('host-fault', 'cannot read /proc/self/stat (is /proc mounted?)');
  return { pid: process.pid, start };
}

// Removes the trace objects of nftlb's table unless `keep` says their owner's must stay. 'kept' names that owner.
// Called with the apply lock held (nothing else changes the table meanwhile). `config`: the config whose apply record
// follows the removal (carryNoopRecord: an apply while a trace runs stays a no-op and leaves it alone).
export async function clearTrace(
  host: Host,
  table: TableRef,
  keep: (owner: TraceOwner) => Promise<boolean>,
  config?: string,
): Promise<{ kind: 'none' | 'removed' } | { kind: 'kept'; owner: TraceOwner }> {
  const listing = await listWithHandles(host, table);
  const objects = listing === null ? null : traceObjects(listing);
  if (objects === null) return { kind: 'none' };
  if (objects.owner !== null && (await keep(objects.owner))) return { kind: 'kept', owner: objects.owner };
  const r = await carryNoopRecord(host, config, { trace: null }, () =>
    loadScript(host, renderCommands(traceRemoval(table, objects))),
  );
  if (r.exitCode !== 0) throw nftFailed('nft refused to remove the trace rules', r);
  return { kind: 'removed' };
}

// Keeps the objects of a trace whose owner still runs (apply and a new trace leave a running trace alone).
export const keepLive = (o: TraceOwner): Promise<boolean> => processAlive(o.pid, o.start);

// The service of a listener (for a connection refused before the dispatch named one).
function serviceAt(p: Plan, c: TracedConnection): PlannedService | undefined {
  return p.services.find(
    (s) =>
      (c.protocol === null || s.protocols.includes(c.protocol as 'tcp' | 'udp')) &&
      s.pools.some((pool) => pool.vips.some((v) => v.text === c.vip.address)) &&
      (c.vip.port === null || s.ports.some((r) => c.vip.port! >= r.first && c.vip.port! <= r.last)),
  );
}

// Runs one trace (see the top of this file).
export async function runTrace(host: Host, o: TraceOptions, on: TraceHooks): Promise<TraceSummary> {
  const { model } = await loadModel(o.config);
  const { plan: p } = await desiredPlan(model, host);
  let service: PlannedService | undefined;
  if (o.service !== undefined) {
    service = p.services.find((s) => s.name === o.service);
    if (service === undefined) throw new NftlbError('usage', `--service: no service ${o.service} in the config`);
    if (service.dsr !== undefined)
      throw new NftlbError(
        'usage',
        `--service: ${o.service} is a DSR service: its packets leave at the netdev ingress, before the inet table and conntrack, where nftlb trace follows connections`,
      );
  }
  let client: Prefix | undefined;
  if (o.client !== undefined) {
    const r = parsePrefix(o.client);
    if ('problem' in r) throw new NftlbError('usage', `--client: ${r.problem}`);
    client = r.prefix;
  }
  const table: TableRef = { family: 'inet', name: ident(p.table) };
  const live = await readLiveTable(host, table);
  if (live.kind === 'absent')
    throw new NftlbError('usage', `table inet ${p.table} is not loaded: nothing to trace (run nftlb apply)`);
  if (live.fingerprint === null) throw foreignTable(table);
  // As status judges it: after nftlb health's incremental updates the record, not a render, has the live fingerprint.
  const verdict = await judgeNoop(host, o.config, await readNoopRecord(host, o.config));
  if (live.fingerprint !== loadedFingerprint(verdict, () => renderNftScript(p).fingerprint))
    on.warning(`the live table does not match ${o.config} (nftlb diff tells how); tracing what is loaded`);
  const me = await self();

  // Leftovers of a trace that died go; a trace that still runs is left alone, and this one does not start.
  const release = await acquireLock(host, o.waitSeconds);
  try {
    const old = await clearTrace(host, table, keepLive, o.config);
    if (old.kind === 'kept')
      throw new NftlbError('lock-busy', `another nftlb trace (pid ${old.owner.pid}) is tracing table inet ${p.table}`);
  } finally {
    await release();
  }

  let bits = new Map<number, number>();
  let assembler: TraceAssembler | undefined;
  let probed = false;
  let count = 0;
  let finish: (why: TraceSummary['ended']) => void = () => undefined;
  const ended = new Promise<TraceSummary['ended']>((resolve) => (finish = resolve));
  const emit = (cs: readonly TracedConnection[]): void => {
    for (const c of cs) {
      if (count >= o.count) return;
      const s = c.service === null ? serviceAt(p, c) : p.services.find((x) => x.name === c.service);
      count++;
      on.connection({ ...c, service: s?.name ?? c.service, scheduler: s?.scheduler ?? null });
      if (count >= o.count) finish('count');
    }
  };
  // A reload of the table takes the trace rules with it: nothing more can be traced, so the trace ends then, not at its
  // limits.
  const monitor: LineStream = await startMonitor(host, (line) => {
    if (!probed && line.includes(`chain ${table.family} ${table.name} trace_probe`)) probed = true;
    if (assembler !== undefined && line.startsWith('trace id ')) emit(assembler.push(line));
    else if (assembler !== undefined && traceGoneEvent(table, line)) finish('reload');
  });
  void monitor.exited.then(() => finish('monitor'));
  let installed = false;
  try {
    for (let i = 0; i < PROBES && !probed && o.signal?.aborted !== true; i++) {
      const r = await carryNoopRecord(host, o.config, { trace: null }, () =>
        loadScript(host, renderCommands(traceProbe(table))),
      );
      if (r.exitCode !== 0) throw nftFailed('nft refused the probe of nft monitor', r);
      for (let w = 0; w < PROBE_WAIT_MS / 20 && !probed; w++) await sleep(20);
    }
    if (!probed && o.signal?.aborted === true) {
      await monitor.end();
      return { table: p.table, connections: 0, ended: 'signal', reloaded: false };
    }
    if (!probed) throw new NftlbError('nft-failed', 'nft monitor reported nothing; cannot trace');
    const lock = await acquireLock(host, o.waitSeconds);
    try {
      const r = await carryNoopRecord(host, o.config, { trace: me }, () =>
        loadWithEcho(host, renderCommands(traceInstall(p, table, { service, client }, me))),
      );
      if (r.exitCode !== 0) throw nftFailed('nft refused the trace rules; nothing was changed', r);
      installed = true;
      bits = markBits(r.stdout);
    } finally {
      await lock();
    }
    assembler = new TraceAssembler(table, bits);
    on.ready({
      table: p.table,
      service: service?.name ?? null,
      client: client?.text ?? null,
      count: o.count,
      seconds: o.seconds,
    });
    const timer = setTimeout(() => finish('seconds'), o.seconds * 1000);
    const idle = setInterval(() => emit(assembler!.idle(IDLE_MS)), 500);
    const abort = (): void => finish('signal');
    if (o.signal?.aborted === true) abort();
    o.signal?.addEventListener('abort', abort);
    const why = await ended;
    clearTimeout(timer);
    clearInterval(idle);
    o.signal?.removeEventListener('abort', abort);
    await monitor.end();
    emit(assembler.end());
    const removed = await removeOwn(host, table, me, o.waitSeconds, o.config);
    return { table: p.table, connections: count, ended: why, reloaded: !removed };
  } catch (e) {
    await monitor.end();
    if (installed) await removeOwn(host, table, me, o.waitSeconds, o.config).catch(() => undefined);
    throw e;
  }
}

// Removes this trace's objects; false when there were none of its own left (a reload replaced the table).
async function removeOwn(
  host: Host,
  table: TableRef,
  me: TraceOwner,
  waitSeconds: number,
  config: string,
): Promise<boolean> {
  const release = await acquireLock(host, waitSeconds);
  try {
    const mine = (x: TraceOwner): boolean => x.pid === me.pid && x.start === me.start;
    const r = await clearTrace(host, table, async (x) => !mine(x), config);
    return r.kind === 'removed';
  } finally {
    await release();
  }
}
