import { Command, Option } from 'commander';
import { ENGINE_FORMATS, renderEngine, type EngineFormat } from '../cluster/render.js';
import { systemExecutor } from '../system/executor.js';
import { loadModel } from '../system/config-file.js';
import { renderIptablesScript } from '../iptables/script.js';
import { renderNftScript } from '../nft/script.js';
import { plan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { printDiagnostics, reportError } from './io.js';

// Output formats of `nftlb render`, each giving its text as pieces whose concatenation is the output.
export const renderFormats = new Map<string, (p: Plan) => readonly string[]>([
  ['nft', (p) => renderNftScript(p).pieces],
  ['iptables', (p) => [renderIptablesScript(p, 4)]],
  ['ip6tables', (p) => [renderIptablesScript(p, 6)]],
]);

// `nftlb render`: prints the script for the config on stdout and nothing else; on error nothing reaches stdout.
export function renderCommand(ctx: CommandContext): Command {
  return new Command('render')
    .description('print the nft script (or iptables-restore input) for the config on stdout')
    .addOption(configOption())
    .addOption(
      new Option(
        '-f, --format <format>',
        'output format: nft, iptables (iptables-restore input, IPv4) or ip6tables (ip6tables-restore input, IPv6); bird, keepalived, conntrackd: the cluster engine configuration of this node',
      )
        .choices(['nft', 'iptables', 'ip6tables', ...Object.keys(ENGINE_FORMATS)])
        .default('nft'),
    )
    .addOption(clusterNodeOption())
    .addOption(clusterDirOption())
    .addOption(
      new Option(
        '--program <command>',
        'keepalived: the nftlb command its notify scripts run (default /usr/bin/nftlb)',
      ),
    )
    .action(async (opts: { config: string; format: string; node?: string; clusterDir?: string; program?: string }) => {
      try {
        if (Object.hasOwn(ENGINE_FORMATS, opts.format)) {
          const { model, warnings } = await loadModel(opts.config);
          const host = hostOf(ctx, systemExecutor(ctx.env), { node: opts.node, clusterDir: opts.clusterDir });
          const text = renderEngine(opts.format as EngineFormat, model, host, {
            config: opts.config,
            program: opts.program,
          });
          printDiagnostics(ctx.io, opts.config, warnings);
          ctx.io.out(text);
          return ctx.exit(0);
        }
        const fmt = renderFormats.get(opts.format);
        if (fmt === undefined) throw new Error(`format ${opts.format} is not available in this build`);
        // Only the plan is kept: the config text, its parsed value and the model are garbage once planned.
        const { p, warnings } = await loadModel(opts.config).then(({ model, warnings }) => ({
          p: plan(model),
          warnings,
        }));
        const pieces = fmt(p);
        printDiagnostics(ctx.io, opts.config, warnings);
        for (const piece of pieces) ctx.io.out(piece);
        ctx.exit(0);
      } catch (e) {
        ctx.exit(reportError(ctx.io, e, opts.config));
      }
    });
}

// --node: the cluster node this host is (else $NFTLB_NODE, else the hostname).
export function clusterNodeOption(): Option {
  return new Option('--node <name>', 'the cluster node this host is (default: $NFTLB_NODE, else the hostname)');
}

// --cluster-dir: one directory for this node's cluster daemon files.
export function clusterDirOption(): Option {
  return new Option(
    '--cluster-dir <dir>',
    "one directory for this node's cluster daemon files: bird.ctl, conntrackd.conf/.ctl/.lock, the VRRP role (default: $NFTLB_CLUSTER_DIR, else each daemon's own)",
  );
}
