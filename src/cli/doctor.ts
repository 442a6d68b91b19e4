import { Command, Option } from 'commander';
import { runDoctor, type Check } from '../ops/doctor.js';
import { procReader, type ProcReader } from '../system/proc.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { NftlbError } from '../common/errors.js';
import { loadModel } from '../system/config-file.js';
import type { Model } from '../model/types.js';
import { DEFAULT_CONFIG_PATH } from '../system/host.js';

// `nftlb doctor`: what this host needs for nftlb, one line per check (ok / warn / fail with the fix). Exit 0 without a
// blocker (warnings included), 10 when a check fails. -q: only the warn and fail lines.
// The config's DSR services add the checks of the balancer side of DSR: with -c that config (an unreadable or invalid
// one is an error), without it the default config when there is one (none, or an invalid one: no DSR checks, and a
// warning for the invalid one).
export function doctorCommand(
  ctx: CommandContext,
  exec: Executor = systemExecutor(ctx.env),
  proc: ProcReader = procReader,
  defaultConfig: string = DEFAULT_CONFIG_PATH,
): Command {
  return new Command('doctor')
    .description(
      'check nft, kernel features, sysctls, legacy iptables nat rules, tools, and the DSR side of the config; exit 10 on a blocker',
    )
    .addOption(
      new Option('-c, --config <file>', `config whose DSR services to check (default: ${defaultConfig} if it exists)`),
    )
    .addOption(new Option('--json', 'print the checks as JSON on stdout'))
    .addOption(new Option('-q, --quiet', 'print only the checks that warn or fail'))
    .action(async (opts: { json?: boolean; quiet?: boolean; config?: string }) => {
      const json = opts.json === true;
      try {
        const extra: Check[] = [];
        let model: Model | undefined;
        if (opts.config !== undefined) model = (await loadModel(opts.config)).model;
        else {
          try {
            model = (await loadModel(defaultConfig)).model;
          } catch (e) {
            const code = e instanceof NftlbError ? e.code : undefined;
            if (code === 'config-invalid')
              extra.push({
                name: 'config',
                level: 'warn',
                detail: `${defaultConfig} is invalid: its DSR services were not checked`,
                fix: `nftlb check -c ${defaultConfig}`,
              });
            else if (code !== 'config-read') throw e;
          }
        }
        const checks = [...(await runDoctor(hostOf(ctx, exec), { proc, ...(model ? { model } : {}) })), ...extra];
        const blocked = checks.some((c) => c.level === 'fail');
        const code = blocked ? EXIT.blocked : EXIT.ok;
        if (json) printEnvelope(ctx.io, 'doctor', blocked ? 'blocked' : 'ok', code, { ok: !blocked, checks });
        else
          ctx.io.out(
            checks
              .filter((c) => opts.quiet !== true || c.level !== 'ok')
              .map(line)
              .join(''),
          );
        ctx.exit(code);
      } catch (e) {
        ctx.exit(reportFailure(ctx.io, 'doctor', json, e, opts.config));
      }
    });
}

const line = (c: Check): string =>
  `${c.level.padEnd(4)}  ${c.name}: ${c.detail}${c.fix === null ? '' : `\n      fix: ${c.fix}`}\n`;
