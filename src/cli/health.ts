import { Command, Option } from 'commander';
import { systemExecutor, type Executor } from '../system/executor.js';
import { loadModel } from '../system/config-file.js';
import { runProbe, type CaContexts } from '../health/probe.js';
import { caContexts } from '../health/tls.js';
import { readCaFile } from '../system/ca-file.js';
import { healthOnce, type RoundDeps, type RoundReport } from '../health/round.js';
import { overridesFile, overrideStates, readOverrides } from '../health/overrides.js';
import { healthStateFile, readHealthState } from '../health/state-file.js';
import { checkStatusText, checkStatusView } from '../health/check-status.js';
import { watch } from '../health/watch.js';
import { Announcer, type AnnounceEvent } from '../cluster/announce.js';
import { thisNode } from '../cluster/node.js';
import type { Model } from '../model/types.js';
import { clusterDirOption, clusterNodeOption } from './render.js';
import { parseWait } from './apply.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics, reportError, type Io } from './io.js';

// The --state-dir option.
export function stateDirOption(): Option {
  return new Option('--state-dir <dir>', 'health state directory (default: $NFTLB_STATE_DIR or /var/lib/nftlb)');
}

// The process signals --watch listens to; tests pass their own emitter.
export interface SignalSource {
  on(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', fn: () => void): void;
  off(signal: 'SIGHUP' | 'SIGTERM' | 'SIGINT', fn: () => void): void;
}

function roundDeps(
  ctx: CommandContext,
  exec: Executor,
  opts: { stateDir?: string; lockFile?: string; wait: number; force?: boolean; node?: string; clusterDir?: string },
  table: string,
  cas: { current: CaContexts },
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
    probe: (check, target) => runProbe(check, target, ctx.env, cas.current),
    now: () => new Date(),
    stateFile: healthStateFile(host.stateDir, table),
    warn: (msg) => ctx.io.err(`nftlb health: warning: ${msg}\n`),
  };
}

// One log line per transition and per kernel update, the form journald shows.
function logRound(io: Io, r: RoundReport): void {
  for (const t of r.transitions)
    io.err(`nftlb health: ${t.service} ${t.endpoint}: ${t.from} -> ${t.to} (${t.reason})\n`);
  for (const c of r.spill) {
    const at = c.key.indexOf('/');
    const what = c.full
      ? `full (${c.count}/${c.max} connections): no new connections`
      : `has room (${c.count}/${c.max} connections): takes new connections again`;
    io.err(`nftlb health: ${c.key.slice(0, at)} ${c.key.slice(at + 1)}: ${what}\n`);
  }
  for (const o of r.overrides ?? []) {
    const at = o.key.indexOf('/');
    const what = o.to === null ? `override ${o.from ?? ''} removed` : `override ${o.to} set`;
    io.err(`nftlb health: ${o.key.slice(0, at)} ${o.key.slice(at + 1)}: ${what} (nftlb backend)\n`);
  }
  if (r.sync.action !== 'none')
    io.err(`nftlb health: ${r.sync.action === 'full' ? `reloaded table (${r.sync.why})` : r.sync.why}\n`);
  if (r.sync.reset.length > 0) io.err(`nftlb health: reset connections of backend id ${r.sync.reset.join(', ')}\n`);
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

// `nftlb health`: --once checks every backend once (for cron); --watch keeps checking (for systemd).
export function healthCommand(
  ctx: CommandContext,
  exec: Executor = systemExecutor(ctx.env),
  signals: SignalSource = process,
): Command {
  return new Command('health')
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
    .addOption(new Option('--json', '--once, --status: print JSON on stdout'))
    .addOption(new Option('--wait <seconds>', 'wait up to SECONDS for the apply lock').argParser(parseWait).default(10))
    .addOption(
      new Option('--lock-file <file>', 'lock file shared with apply (default: $NFTLB_LOCK or /run/nftlb/apply.lock)'),
    )
    .addOption(clusterNodeOption())
    .addOption(clusterDirOption())
    .action(
      async (opts: {
        config: string;
        once?: boolean;
        watch?: boolean;
        status?: boolean;
        stateDir?: string;
        json?: boolean;
        wait: number;
        lockFile?: string;
        force?: boolean;
        node?: string;
        clusterDir?: string;
      }) => {
        try {
          if ([opts.once, opts.watch, opts.status].filter((x) => x === true).length !== 1) {
            ctx.io.err('nftlb health: give one of --once, --watch or --status\n');
            ctx.exit(EXIT.usage);
            return;
          }
          const { model, warnings } = await loadModel(opts.config);
          if (opts.status === true) {
            const dir = hostOf(ctx, exec, { stateDir: opts.stateDir }).stateDir;
            const file = healthStateFile(dir, model.table);
            const state = await readHealthState(file, model.table, (m) => ctx.io.err(`nftlb health: warning: ${m}\n`));
            const ofile = overridesFile(dir, model.table);
            const overrides = overrideStates(await readOverrides(ofile, model.table));
            const rows = checkStatusView(model, { ...state, overrides });
            ctx.io.out(
              opts.json === true
                ? `${JSON.stringify({ table: model.table, stateFile: file, overridesFile: ofile, backends: rows }, null, 2)}\n`
                : checkStatusText(rows),
            );
            ctx.exit(EXIT.ok);
            return;
          }
          printDiagnostics(ctx.io, opts.config, warnings);
          // The CA files of https checks are read once here (and again on SIGHUP), not by every probe.
          const cas = { current: await caContexts(model, readCaFile) };
          const deps = roundDeps(ctx, exec, opts, model.table, cas);
          const announcer = announcerOf(ctx, deps, model, opts.config);
          if (opts.once === true) {
            const r = await healthOnce(deps, model);
            logRound(ctx.io, r);
            await announcer?.served(r.sync.plan);
            if (opts.json === true) ctx.io.out(`${JSON.stringify(reportJson(r), null, 2)}\n`);
            ctx.exit(EXIT.ok);
            return;
          }
          await watchUntilStopped(ctx, deps, model, opts.config, signals, cas, announcer);
          ctx.exit(EXIT.ok);
        } catch (e) {
          ctx.exit(reportError(ctx.io, e, opts.config));
        }
      },
    );
}

async function watchUntilStopped(
  ctx: CommandContext,
  deps: RoundDeps,
  model: Awaited<ReturnType<typeof loadModel>>['model'],
  config: string,
  signals: SignalSource,
  cas: { current: CaContexts },
  announcer: Announcer | undefined,
): Promise<void> {
  ctx.io.err(`nftlb health: watching ${config} (table ${model.table})\n`);
  let current = model;
  const w = watch(
    deps,
    model,
    (r) => {
      logRound(ctx.io, r);
      // ecmp: the table now holds r.sync.plan; announce the VIPs it serves, withdraw the others.
      void announcer?.served(r.sync.plan, current);
    },
    (e) => void reportError(ctx.io, e, config),
  );
  announcer?.start(ANNOUNCE_RECONCILE_MS);
  const hup = (): void => {
    loadModel(config)
      .then(async ({ model: m }) => ({ m, c: await caContexts(m, readCaFile) }))
      .then(
        ({ m, c }) => {
          if (m.table !== model.table) {
            ctx.io.err(`nftlb health: ${config}: the table name changed; restart nftlb health to follow it\n`);
            return;
          }
          ctx.io.err(`nftlb health: reloaded ${config}\n`);
          // Probes of the round in flight may still name a CA file of the old config: keep those contexts.
          cas.current = new Map([...cas.current, ...c]);
          current = m;
          w.reload(m);
        },
        (e: unknown) => {
          ctx.io.err('nftlb health: SIGHUP: the config cannot be used, keeping the previous one\n');
          reportError(ctx.io, e, config);
        },
      );
  };
  const term = (): void => {
    ctx.io.err('nftlb health: stopping\n');
    w.stop();
  };
  signals.on('SIGHUP', hup);
  signals.on('SIGTERM', term);
  signals.on('SIGINT', term);
  try {
    await w.done;
  } finally {
    // Nobody checks the backends any more: this node leaves the ECMP group.
    announcer?.stop();
    await announcer?.withdrawAll();
    signals.off('SIGHUP', hup);
    signals.off('SIGTERM', term);
    signals.off('SIGINT', term);
  }
}

/** How often nftlb health --watch makes BIRD's VIP protocols match again (a restarted BIRD starts with none). */
const ANNOUNCE_RECONCILE_MS = 2000;

// ecmp: the announcer of this node's VIPs (undefined without an ecmp cluster). The host must be a node of the cluster.
function announcerOf(ctx: CommandContext, deps: RoundDeps, model: Model, config: string): Announcer | undefined {
  if (model.cluster?.mode !== 'ecmp') return undefined;
  const node = thisNode(model.cluster, deps.host.cluster);
  ctx.io.err(
    `nftlb health: node ${node.name}: announcing the VIPs it can serve through BIRD (${deps.host.cluster.birdSocket})\n`,
  );
  return new Announcer(
    deps.host,
    model,
    (e: AnnounceEvent) =>
      ctx.io.err(
        `nftlb health: ${e.announced ? 'announcing' : 'withdrawing'} ${e.vip} (BIRD protocol ${e.protocol})\n`,
      ),
    (e) => void reportError(ctx.io, e, config),
  );
}
