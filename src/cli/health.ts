import { Command, InvalidArgumentError, Option } from 'commander';
import type { Model } from '../model/types.js';
import { parseListen, serveMetrics, type ListenAddress, type MetricsServer } from '../system/metrics-server.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { loadModel, loadModelAndDigest } from '../system/config-file.js';
import { noopRecordKeeper } from '../ops/noop.js';
import { runProbe, type CaContexts } from '../health/probe.js';
import { caContexts } from '../health/tls.js';
import { readCaFile } from '../system/ca-file.js';
import { requireConntrack } from '../system/conntrack.js';
import { releaseSignals, type HeldSignal } from './early-signals.js';
import { healthOnce, type RoundDeps, type RoundReport } from '../health/round.js';
import { overridesFile, overrideStates, readOverrides } from '../health/overrides.js';
import { healthStateFile, readHealthState } from '../health/state-file.js';
import { checkStatusText, checkStatusView } from '../health/check-status.js';
import { watch } from '../health/watch.js';
import { Announcer, type AnnounceEvent } from '../cluster/announce.js';
import { thisNode } from '../cluster/node.js';
import { clusterDirOption, clusterNodeOption } from './render.js';
import { parseWait } from './apply.js';
import { configOption, hostOf, outputOf, verbosityOptions, type CommandContext, type Output } from './context.js';
import { errorObject, printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { HealthCounters, scraper } from './health-metrics.js';
import { printDiagnostics, reportError } from './io.js';

// The --state-dir option.
export function stateDirOption(): Option {
  return new Option('--state-dir <dir>', 'health state directory (default: $NFTLB_STATE_DIR or /var/lib/nftlb)');
}

// The process signals --watch listens to; tests pass their own emitter.
export interface SignalSource {
  on(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', fn: () => void): void;
  off(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', fn: () => void): void;
}

// The sha256 of the config text each model was read from: apply's no-op record is carried past health's transactions
// only for the text it was made of (src/ops/noop.ts, noopRecordKeeper).
const digests = new WeakMap<Model, string>();

async function loadHashed(file: string, stage?: (what: string) => void): ReturnType<typeof loadModelAndDigest> {
  const loaded = await loadModelAndDigest(file, stage);
  digests.set(loaded.model, loaded.sha256);
  return loaded;
}

function roundDeps(
  ctx: CommandContext,
  exec: Executor,
  opts: {
    config: string;
    stateDir?: string;
    lockFile?: string;
    wait: number;
    force?: boolean;
    node?: string;
    clusterDir?: string;
  },
  table: string,
  out: Output,
  cas: { current: CaContexts },
  checked: (ok: boolean) => void,
): RoundDeps {
  const host = hostOf(ctx, exec, {
    lockFile: opts.lockFile,
    stateDir: opts.stateDir,
    node: opts.node,
    clusterDir: opts.clusterDir,
  });
  return {
    host,
    lockWaitSeconds: opts.wait,
    force: opts.force === true,
    probe: async (check, target) => {
      const r = await runProbe(check, target, ctx.env, cas.current);
      checked(r.ok);
      return r;
    },
    now: () => new Date(),
    stateFile: healthStateFile(host.stateDir, table),
    warn: (msg) => out.note(`nftlb health: warning: ${msg}\n`),
    records: noopRecordKeeper(host, opts.config, (m) => digests.get(m)),
  };
}

// One log line per transition and per kernel update, the form journald shows (nothing with -q); with -v also a line
// per round that did something.
function logRound(out: Output, r: RoundReport, ms: number | undefined): void {
  for (const t of r.transitions)
    out.note(`nftlb health: ${t.service} ${t.endpoint}: ${t.from} -> ${t.to} (${t.reason})\n`);
  for (const c of r.spill) {
    const at = c.key.indexOf('/');
    const what = c.full
      ? `full (${c.count}/${c.max} connections): no new connections`
      : `has room (${c.count}/${c.max} connections): takes new connections again`;
    out.note(`nftlb health: ${c.key.slice(0, at)} ${c.key.slice(at + 1)}: ${what}\n`);
  }
  for (const o of r.overrides ?? []) {
    const at = o.key.indexOf('/');
    const what = o.to === null ? `override ${o.from ?? ''} removed` : `override ${o.to} set`;
    out.note(`nftlb health: ${o.key.slice(0, at)} ${o.key.slice(at + 1)}: ${what} (nftlb backend)\n`);
  }
  if (r.sync.action !== 'none')
    out.note(`nftlb health: ${r.sync.action === 'full' ? `reloaded table (${r.sync.why})` : r.sync.why}\n`);
  if (r.sync.reset.length > 0) out.note(`nftlb health: reset connections of backend id ${r.sync.reset.join(', ')}\n`);
  out.detail(
    `health: ${r.checked} checked, ${r.transitions.length} transitions, table ${r.sync.action}${ms === undefined ? '' : ` (${Math.round(ms)} ms)`}`,
  );
}

function reportJson(r: RoundReport): object {
  return {
    checked: r.checked,
    transitions: r.transitions,
    spill: r.spill,
    action: r.sync.action,
    why: r.sync.why,
    services: r.sync.services,
    reset: r.sync.reset,
  };
}

// Backends with a check, as a round probes them (config state down is not probed): for the progress line.
function probedCount(model: Model): number {
  let n = 0;
  for (const s of model.services) for (const b of s.backends) if (b.health !== undefined && b.state !== 'down') n++;
  return n;
}

type HealthOpts = {
  config: string;
  once?: boolean;
  watch?: boolean;
  status?: boolean;
  stateDir?: string;
  json?: boolean;
  wait: number;
  lockFile?: string;
  force?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  metricsListen?: ListenAddress;
  node?: string;
  clusterDir?: string;
};

// `nftlb health`: --once checks every backend once (for cron); --watch keeps checking (for systemd), and serves
// /metrics when asked; --status shows the recorded verdicts.
export function healthCommand(
  ctx: CommandContext,
  exec: Executor = systemExecutor(ctx.env),
  signals: SignalSource = process,
): Command {
  const cmd = new Command('health')
    .description('check backends and take dead ones out of (and healthy ones back into) the live table')
    .addOption(configOption())
    .addOption(new Option('--once', 'check every backend once, update the table, exit (for cron)'))
    .addOption(
      new Option('--watch', 'keep checking each backend at its interval; SIGHUP reloads the config, SIGTERM stops'),
    )
    .addOption(
      new Option(
        '--status',
        "print each backend's health verdict, last check and reason from the state file; check nothing",
      ),
    )
    .addOption(stateDirOption())
    .addOption(new Option('--force', "replace a table of the config's name that nftlb did not make"))
    .addOption(
      new Option('--json', 'print the outcome as JSON on stdout (--watch: once, when it stops; errors: always)'),
    )
    .addOption(new Option('--wait <seconds>', 'wait up to SECONDS for the apply lock').argParser(parseWait).default(10))
    .addOption(
      new Option('--lock-file <file>', 'lock file shared with apply (default: $NFTLB_LOCK or /run/nftlb/apply.lock)'),
    )
    .addOption(
      new Option(
        '--metrics-listen <address:port>',
        '--watch: serve Prometheus metrics on http://ADDRESS:PORT/metrics (e.g. 127.0.0.1:9811, [::1]:9811)',
      ).argParser((v: string) => {
        const l = parseListen(v);
        if (l === undefined) throw new InvalidArgumentError('expected ADDRESS:PORT, e.g. 127.0.0.1:9811 or [::1]:9811');
        return l;
      }),
    )
    .addOption(clusterNodeOption())
    .addOption(clusterDirOption());
  for (const o of verbosityOptions()) cmd.addOption(o);
  return cmd.action(async (opts: HealthOpts) => {
    const json = opts.json === true;
    const mode = opts.once === true ? 'once' : opts.watch === true ? 'watch' : 'status';
    const out = outputOf(ctx, opts);
    // --watch is a service: a SIGHUP (systemctl reload) or SIGTERM while it starts (seconds at 10k services) must not
    // end it by the signal's default action; they are held here and acted on once it watches.
    const early = opts.watch === true ? heldSignals(signals) : undefined;
    try {
      if ([opts.once, opts.watch, opts.status].filter((x) => x === true).length !== 1) {
        const message = 'give one of --once, --watch or --status';
        out.io.err(`nftlb health: ${message}\n`);
        if (json) printEnvelope(out.io, 'health', 'error', EXIT.usage, {}, { code: 'usage', message, detail: null });
        ctx.exit(EXIT.usage);
        return;
      }
      if (opts.metricsListen !== undefined && mode !== 'watch') {
        const message = '--metrics-listen needs --watch';
        out.io.err(`nftlb health: ${message}\n`);
        if (json)
          printEnvelope(out.io, 'health', 'error', EXIT.usage, { mode }, { code: 'usage', message, detail: null });
        ctx.exit(EXIT.usage);
        return;
      }
      // --status only reads the state: no digest of the config (13 MB at 50,000 services) for a record it never carries.
      const load = opts.status === true ? loadModel : loadHashed;
      const { model, warnings } = await load(opts.config, (x) => out.progress.step(x));
      out.progress.done();
      if (opts.status === true) {
        const dir = hostOf(ctx, exec, { stateDir: opts.stateDir }).stateDir;
        const file = healthStateFile(dir, model.table);
        const state = await readHealthState(file, model.table, (m) => out.note(`nftlb health: warning: ${m}\n`));
        const ofile = overridesFile(dir, model.table);
        const overrides = overrideStates(await readOverrides(ofile, model.table));
        const rows = checkStatusView(model, { ...state, overrides });
        if (json)
          printEnvelope(out.io, 'health', 'ok', EXIT.ok, {
            mode,
            table: model.table,
            stateFile: file,
            overridesFile: ofile,
            backends: rows,
          });
        else out.io.out(checkStatusText(rows));
        ctx.exit(EXIT.ok);
        return;
      }
      if (!out.quiet) printDiagnostics(out.io, opts.config, warnings);
      // on-down reset deletes connections right after a change of the table: without conntrack a round would change
      // the table and then fail, so its absence stops health before it starts.
      if (model.services.some((s) => s.onDown === 'reset'))
        await requireConntrack(hostOf(ctx, exec, { stateDir: opts.stateDir }));
      const counters = new HealthCounters();
      // The CA files of https checks are read once here (and again on SIGHUP), not by every probe.
      const cas = { current: await caContexts(model, readCaFile) };
      if (opts.once === true) {
        const total = probedCount(model);
        let done = 0;
        const deps = roundDeps(ctx, exec, opts, model.table, out, cas, (ok) => {
          counters.check(ok);
          out.progress.step(`checked ${++done} of ${total} backends`);
        });
        let announceFailed: unknown;
        const announcer = announcerOf(out, deps, model, opts.config, (e) => (announceFailed ??= e));
        const t0 = performance.now();
        out.progress.step(`checking ${total} backends`);
        const r = await healthOnce(deps, model);
        out.progress.done();
        logRound(out, r, performance.now() - t0);
        await announcer?.served(r.sync.plan);
        // The round went through, but BIRD announces what it did before: the engine's failure is the outcome.
        const code = announceFailed === undefined ? EXIT.ok : EXIT.engineFailed;
        if (json)
          printEnvelope(
            out.io,
            'health',
            announceFailed === undefined ? 'checked' : 'error',
            code,
            { mode, table: model.table, ...reportJson(r) },
            announceFailed === undefined ? null : errorObject(announceFailed),
          );
        ctx.exit(code);
        return;
      }
      const deps = roundDeps(ctx, exec, opts, model.table, out, cas, (ok) => counters.check(ok));
      const announcer = announcerOf(out, deps, model, opts.config, () => counters.errors++);
      const stopped = await watchUntilStopped(ctx, out, deps, model, opts, signals, counters, cas, announcer, early);
      if (json) printEnvelope(out.io, 'health', 'stopped', EXIT.ok, { mode, table: stopped.table, ...stopped.totals });
      ctx.exit(EXIT.ok);
    } catch (e) {
      out.progress.done();
      ctx.exit(reportFailure(out.io, 'health', json, e, opts.config, { mode }));
    } finally {
      early?.release();
    }
  });
}

/** Signals that arrived before --watch took them over. */
interface HeldSignals {
  /** Stops holding; returns what arrived meanwhile (here, and before, held by the entry: src/cli/early-signals.ts). */
  release(): Set<HeldSignal>;
}

// Listens to SIGHUP, SIGTERM and SIGINT of `signals`, only to remember them, until release().
function heldSignals(signals: SignalSource): HeldSignals {
  const got = new Set<HeldSignal>();
  const handlers = (['SIGHUP', 'SIGTERM', 'SIGINT'] as const).map((n) => [n, () => void got.add(n)] as const);
  for (const [n, fn] of handlers) signals.on(n, fn);
  let released = false;
  return {
    release: () => {
      if (!released) for (const [n, fn] of handlers) signals.off(n, fn);
      released = true;
      for (const n of releaseSignals()) got.add(n);
      return got;
    },
  };
}

async function watchUntilStopped(
  ctx: CommandContext,
  out: Output,
  deps: RoundDeps,
  first: Model,
  opts: HealthOpts,
  signals: SignalSource,
  counters: HealthCounters,
  cas: { current: CaContexts },
  announcer: Announcer | undefined,
  early?: HeldSignals,
): Promise<{ table: string; totals: object }> {
  const config = opts.config;
  let model = first;
  out.note(`nftlb health: watching ${config} (table ${model.table})\n`);
  let server: MetricsServer | undefined;
  if (opts.metricsListen !== undefined) {
    // The status child gets health's state directory and lock file through the environment it reads them from.
    const childEnv = { ...ctx.env, NFTLB_STATE_DIR: deps.host.stateDir, NFTLB_LOCK: deps.host.lockFile };
    server = await serveMetrics(
      opts.metricsListen,
      scraper(counters, {
        self: ctx.self,
        exec: ctx.self === undefined ? deps.host.exec : systemExecutor(childEnv),
        host: deps.host,
        config,
        table: () => model.table,
        warn: (m) => out.io.err(`nftlb health: ${m}\n`),
      }),
    );
    out.note(`nftlb health: serving metrics on ${server.url}\n`);
  }
  let rounds = 0;
  const w = watch(
    deps,
    model,
    (r) => {
      rounds++;
      counters.round(r);
      logRound(out, r, undefined);
      // ecmp: the table now holds r.sync.plan; announce the VIPs it serves, withdraw the others.
      void announcer?.served(r.sync.plan, model);
    },
    (e) => {
      counters.errors++;
      void reportError(out.io, e, config);
    },
  );
  announcer?.start(ANNOUNCE_RECONCILE_MS);
  const hup = (): void => {
    loadHashed(config)
      .then(async ({ model: m }) => ({ m, c: await caContexts(m, readCaFile) }))
      .then(
        ({ m, c }) => {
          if (m.table !== model.table) {
            out.io.err(`nftlb health: ${config}: the table name changed; restart nftlb health to follow it\n`);
            return;
          }
          out.note(`nftlb health: reloaded ${config}\n`);
          // Probes of the round in flight may still name a CA file of the old config: keep those contexts.
          cas.current = new Map([...cas.current, ...c]);
          model = m;
          w.reload(m);
        },
        (e: unknown) => {
          out.io.err('nftlb health: SIGHUP: the config cannot be used, keeping the previous one\n');
          reportError(out.io, e, config);
        },
      );
  };
  const term = (): void => {
    out.note('nftlb health: stopping\n');
    w.stop();
    // Stop listening at once: a scrape after SIGTERM is refused rather than answered by a process on its way out.
    void server?.close();
  };
  signals.on('SIGHUP', hup);
  signals.on('SIGTERM', term);
  signals.on('SIGINT', term);
  // What came while it started: a stop wins; a reload reads the config again (it may have changed since start read it).
  const held = early?.release() ?? new Set();
  if (held.has('SIGTERM') || held.has('SIGINT')) term();
  else if (held.has('SIGHUP')) hup();
  try {
    await w.done;
  } finally {
    // Nobody checks the backends any more: this node leaves the ECMP group.
    announcer?.stop();
    await announcer?.withdrawAll();
    signals.off('SIGHUP', hup);
    signals.off('SIGTERM', term);
    signals.off('SIGINT', term);
    await server?.close();
  }
  return {
    table: model.table,
    totals: {
      rounds,
      checks: counters.checks,
      transitions: counters.transitions,
      updates: counters.updates,
      errors: counters.errors,
      metrics: server?.url ?? null,
    },
  };
}

/** How often nftlb health --watch makes BIRD's VIP protocols match again (a restarted BIRD starts with none). */
const ANNOUNCE_RECONCILE_MS = 2000;

// ecmp: the announcer of this node's VIPs (undefined without an ecmp cluster). The host must be a node of the cluster.
// Its failures are reported, and given to `failed` (counted as errors).
function announcerOf(
  out: Output,
  deps: RoundDeps,
  model: Model,
  config: string,
  failed: (e: unknown) => void,
): Announcer | undefined {
  if (model.cluster?.mode !== 'ecmp') return undefined;
  const node = thisNode(model.cluster, deps.host.cluster);
  out.note(
    `nftlb health: node ${node.name}: announcing the VIPs it can serve through BIRD (${deps.host.cluster.birdSocket})\n`,
  );
  return new Announcer(
    deps.host,
    model,
    (e: AnnounceEvent) =>
      out.note(`nftlb health: ${e.announced ? 'announcing' : 'withdrawing'} ${e.vip} (BIRD protocol ${e.protocol})\n`),
    (e) => {
      failed(e);
      reportError(out.io, e, config);
    },
  );
}
