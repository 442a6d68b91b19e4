import { Command, InvalidArgumentError, Option } from 'commander';
import { applyConfig, type LoadDelta } from '../ops/apply.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import {
  configOption,
  hostOf,
  outputOf,
  showingSteps,
  since,
  verbosityOptions,
  type CommandContext,
} from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count, printDiagnostics } from './io.js';

// Parses --wait SECONDS: a whole number of seconds, 0..3600.
export function parseWait(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n > 3600) throw new InvalidArgumentError('expected whole seconds, 0..3600');
  return n;
}

// The --wait and --lock-file options shared by apply and remove.
export function lockOptions(): Option[] {
  return [
    new Option('--wait <seconds>', 'wait up to SECONDS for another apply to finish')
      .argParser(parseWait)
      .default(0, '0: fail at once, exit 8'),
    new Option('--lock-file <file>', 'lock file (default: $NFTLB_LOCK or /run/nftlb/apply.lock)'),
  ];
}

// `nftlb apply`: validates, renders and loads the config in one nft transaction, unless its record of the last load
// proves nothing changed (src/ops/noop.ts). Silent when nothing changed (exit 9), one line on stderr when it loaded
// (exit 0); -q: not that line, nor warnings; -v: the fingerprints and the time taken.
export function applyCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const cmd = new Command('apply')
    .description(
      'load the config into the kernel in one nft transaction (no-op when nothing changed since the last load)',
    )
    .addOption(configOption())
    .addOption(new Option('-n, --dry-run', 'print the script of a full load (as render does); read and change nothing'))
    .addOption(
      new Option(
        '--force',
        'load in full even when nothing changed since the last load (no no-op, no delta), or replace a table of that name nftlb did not make',
      ),
    )
    .addOption(new Option('--json', 'print the outcome as JSON on stdout'));
  for (const o of [...lockOptions(), ...verbosityOptions()]) cmd.addOption(o);
  return cmd.action(
    async (opts: {
      config: string;
      dryRun?: boolean;
      force?: boolean;
      json?: boolean;
      wait: number;
      lockFile?: string;
      quiet?: boolean;
      verbose?: boolean;
    }) => {
      const json = opts.json === true;
      const out = outputOf(ctx, opts);
      try {
        const t0 = performance.now();
        out.progress.step(`reading ${opts.config}`);
        const r = await applyConfig(hostOf(ctx, showingSteps(exec, out.progress), { lockFile: opts.lockFile }), {
          config: opts.config,
          waitSeconds: opts.wait,
          dryRun: opts.dryRun === true,
          force: opts.force === true,
          noopMissed: ctx.noopMissed !== undefined && ctx.noopMissed === opts.config,
        });
        out.progress.done();
        if (!out.quiet) printDiagnostics(out.io, opts.config, r.warnings);
        const code = r.kind === 'unchanged' ? EXIT.unchanged : EXIT.ok;
        out.detail(
          `${r.tables.map((t) => `table ${t}`).join(' and ')}: ${r.kind}, ${count(r.services, 'service')}, fingerprint ${r.fingerprint}${r.kind === 'applied' ? `, was ${r.previous ?? 'none'}` : ''} (${since(t0)})`,
        );
        if (json) {
          printEnvelope(out.io, 'apply', r.kind, code, {
            table: r.table,
            tables: r.tables,
            deleted: r.kind === 'applied' ? r.deleted : [],
            fingerprint: r.fingerprint,
            previousFingerprint: r.kind === 'applied' ? r.previous : r.kind === 'unchanged' ? r.fingerprint : null,
            services: r.services,
            warnings: r.warnings,
            ...(r.kind === 'dry-run' ? { script: r.script } : {}),
            ...(r.kind === 'applied' && r.persistence !== null ? { persistence: r.persistence } : {}),
            ...(r.kind === 'applied'
              ? { load: r.delta === null ? { form: 'full' } : { form: 'delta', ...r.delta } }
              : {}),
            ...(r.kind === 'applied' && r.unrecorded !== undefined ? { unrecorded: r.unrecorded } : {}),
          });
        } else if (r.kind === 'dry-run') {
          out.io.out(r.script);
        } else if (r.kind === 'applied') {
          out.note(
            `nftlb: applied ${r.tables.map((t) => `table ${t}`).join(' and ')}: ${count(r.services, 'service')}, fingerprint ${r.fingerprint}${r.previous ? ` (was ${r.previous})` : ''}${r.deleted.map((t) => `; deleted table ${t}`).join('')}${r.persistence === null ? '' : `; persistence entries ${r.persistence}`}${r.delta === null ? '' : `; by a delta (${deltaText(r.delta)})`}\n`,
          );
        }
        // Said even with -q: without its records every apply of this config loads in full.
        if (r.kind === 'applied' && r.unrecorded !== undefined)
          out.io.err(
            `nftlb: warning: the table is loaded, but its records are not written (${r.unrecorded}): the next apply cannot prove a no-op or send a delta, it loads in full\n`,
          );
        ctx.exit(code);
      } catch (e) {
        out.progress.done();
        ctx.exit(reportFailure(out.io, 'apply', json, e, opts.config));
      }
    },
  );
}

// What a delta load changed, in words: "1 element", "2 chains, 14 elements".
function deltaText(d: LoadDelta): string {
  const parts = [
    ...(d.sets > 0 ? [count(d.sets, 'set')] : []),
    ...(d.chains > 0 ? [count(d.chains, 'chain')] : []),
    ...(d.elements > 0 ? [count(d.elements, 'element')] : []),
  ];
  const inet = parts.length === 0 ? 'the fingerprint only' : parts.join(', ');
  return d.dsrTable === undefined ? inet : `${inet}; table ${d.dsrTable} replaced whole`;
}
