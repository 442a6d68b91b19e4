import { Command, Option } from 'commander';
import { ENGINE_FORMATS, renderEngine, type EngineFormat } from '../cluster/render.js';
import { systemExecutor } from '../system/executor.js';
import { loadModel } from '../system/config-file.js';
import { renderIptablesScript } from '../iptables/script.js';
import { renderNftScript } from '../nft/script.js';
import { plan } from '../plan/plan.js';
import type { Plan } from '../plan/types.js';
import { configOption, hostOf, outputOf, since, verbosityOptions, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count, printDiagnostics } from './io.js';

// Output formats of `nftlb render`, each giving its text as pieces whose concatenation is the output, and the
// fingerprint of an nft script (null for the others).
export const renderFormats = new Map<string, (p: Plan) => { pieces: readonly string[]; fingerprint: string | null }>([
  ['nft', (p) => renderNftScript(p)],
  ['iptables', (p) => ({ pieces: [renderIptablesScript(p, 4)], fingerprint: null })],
  ['ip6tables', (p) => ({ pieces: [renderIptablesScript(p, 6)], fingerprint: null })],
]);

// `nftlb render`: prints the script for the config on stdout and nothing else; on error nothing reaches stdout (with
// --json: only the error envelope). -q: no warnings; -v: the config's size and the script's, with times.
export function renderCommand(ctx: CommandContext): Command {
  const cmd = new Command('render')
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
    .addOption(new Option('--json', 'print the script and what it holds as JSON on stdout'));
  for (const o of verbosityOptions()) cmd.addOption(o);
  return cmd.action(
    async (opts: {
      config: string;
      format: string;
      json?: boolean;
      quiet?: boolean;
      verbose?: boolean;
      node?: string;
      clusterDir?: string;
      program?: string;
    }) => {
      const json = opts.json === true;
      const out = outputOf(ctx, opts);
      try {
        if (Object.hasOwn(ENGINE_FORMATS, opts.format)) {
          const { model, warnings } = await loadModel(opts.config);
          const host = hostOf(ctx, systemExecutor(ctx.env), { node: opts.node, clusterDir: opts.clusterDir });
          const text = renderEngine(opts.format as EngineFormat, model, host, {
            config: opts.config,
            program: opts.program,
          });
          if (!out.quiet) printDiagnostics(out.io, opts.config, warnings);
          if (json)
            printEnvelope(out.io, 'render', 'rendered', EXIT.ok, {
              file: opts.config,
              format: opts.format,
              table: model.table,
              warnings,
              script: text,
            });
          else out.io.out(text);
          return ctx.exit(EXIT.ok);
        }
        const fmt = renderFormats.get(opts.format);
        if (fmt === undefined) throw new Error(`format ${opts.format} is not available in this build`);
        const t0 = performance.now();
        // Only the plan is kept: the config text, its parsed value and the model are garbage once planned.
        const { p, warnings } = await loadModel(opts.config, (s) => out.progress.step(s)).then(
          ({ model, warnings }) => {
            out.progress.step(`planning ${model.services.length} services`);
            return { p: plan(model), warnings };
          },
        );
        const backends = p.services.reduce((n, s) => n + s.backends.length, 0);
        out.detail(
          `${opts.config}: ${count(p.services.length, 'service')}, ${count(backends, 'backend')} (${since(t0)})`,
        );
        out.progress.step(`rendering the ${opts.format} script`);
        const t1 = performance.now();
        const r = fmt(p);
        out.progress.done();
        if (!out.quiet) printDiagnostics(out.io, opts.config, warnings);
        const bytes = r.pieces.reduce((n, x) => n + Buffer.byteLength(x), 0);
        out.detail(
          `${opts.format} script: ${bytes} bytes${r.fingerprint === null ? '' : `, fingerprint ${r.fingerprint}`} (${since(t1)})`,
        );
        if (json)
          printEnvelope(out.io, 'render', 'rendered', EXIT.ok, {
            file: opts.config,
            format: opts.format,
            table: p.table,
            services: p.services.length,
            backends,
            fingerprint: r.fingerprint,
            warnings,
            script: r.pieces.join(''),
          });
        else for (const piece of r.pieces) out.io.out(piece);
        ctx.exit(EXIT.ok);
      } catch (e) {
        out.progress.done();
        ctx.exit(reportFailure(out.io, 'render', json, e, opts.config, { file: opts.config, format: opts.format }));
      }
    },
  );
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
