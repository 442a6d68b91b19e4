import { Command, InvalidArgumentError, Option } from 'commander';
import { NftlbError } from '../common/errors.js';
import { applyConfig } from '../ops/apply.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics, reportError, type Io } from './io.js';

// Parses --wait SECONDS: a whole number of seconds, 0..3600.
export function parseWait(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n > 3600) throw new InvalidArgumentError('expected whole seconds, 0..3600');
  return n;
}

// The --wait and --lock-file options shared by apply and remove.
export function lockOptions(): Option[] {
  return [
    new Option('--wait <seconds>', 'wait up to SECONDS for another apply to finish (default: fail at once, exit 8)')
      .argParser(parseWait)
      .default(0),
    new Option('--lock-file <file>', 'lock file (default: $NFTLB_LOCK or /run/nftlb/apply.lock)'),
  ];
}

// Reports a failure of an ops command: the usual text on stderr, plus (with --json) a stable error object on stdout.
export function reportOpsError(io: Io, command: string, json: boolean, e: unknown, file?: string): number {
  const code = reportError(io, e, file);
  if (json) {
    const err =
      e instanceof NftlbError
        ? { code: e.code, message: e.message, detail: e.detail ?? null }
        : { code: 'internal', message: String(e), detail: null };
    io.out(`${JSON.stringify({ command, result: 'error', exitCode: code, error: err }, null, 2)}\n`);
  }
  return code;
}

// `nftlb apply`: validates, renders and loads the config in one nft transaction, unless its record of the last load
// proves nothing changed (src/ops/noop.ts). Silent when nothing changed (exit 9), one line on stderr when it loaded.
export function applyCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const cmd = new Command('apply')
    .description(
      'load the config into the kernel in one nft transaction (no-op when nothing changed since the last load)',
    )
    .addOption(configOption())
    .addOption(new Option('-n, --dry-run', 'print the script that would be loaded; change nothing'))
    .addOption(
      new Option(
        '--force',
        'load even when the live table already matches the config, or replace a table of that name nftlb did not make',
      ),
    )
    .addOption(new Option('--json', 'print the outcome as JSON on stdout'));
  for (const o of lockOptions()) cmd.addOption(o);
  return cmd.action(
    async (opts: {
      config: string;
      dryRun?: boolean;
      force?: boolean;
      json?: boolean;
      wait: number;
      lockFile?: string;
    }) => {
      const json = opts.json === true;
      try {
        const r = await applyConfig(hostOf(ctx, exec, { lockFile: opts.lockFile }), {
          config: opts.config,
          waitSeconds: opts.wait,
          dryRun: opts.dryRun === true,
          force: opts.force === true,
        });
        printDiagnostics(ctx.io, opts.config, r.warnings);
        const code = r.kind === 'unchanged' ? EXIT.unchanged : EXIT.ok;
        if (json) {
          const out = {
            command: 'apply',
            result: r.kind,
            exitCode: code,
            table: r.table,
            tables: r.tables,
            deleted: r.kind === 'applied' ? r.deleted : [],
            fingerprint: r.fingerprint,
            previousFingerprint: r.kind === 'applied' ? r.previous : r.kind === 'unchanged' ? r.fingerprint : null,
            services: r.services,
            ...(r.kind === 'dry-run' ? { script: r.script } : {}),
            ...(r.kind === 'applied' && r.persistence !== null ? { persistence: r.persistence } : {}),
          };
          ctx.io.out(`${JSON.stringify(out, null, 2)}\n`);
        } else if (r.kind === 'dry-run') {
          ctx.io.out(r.script);
        } else if (r.kind === 'applied') {
          ctx.io.err(
            `nftlb: applied ${r.tables.map((t) => `table ${t}`).join(' and ')}: ${r.services} service${r.services === 1 ? '' : 's'}, fingerprint ${r.fingerprint}${r.previous ? ` (was ${r.previous})` : ''}${r.deleted.map((t) => `; deleted table ${t}`).join('')}${r.persistence === null ? '' : `; persistence entries ${r.persistence}`}\n`,
          );
        }
        ctx.exit(code);
      } catch (e) {
        ctx.exit(reportOpsError(ctx.io, 'apply', json, e, opts.config));
      }
    },
  );
}
