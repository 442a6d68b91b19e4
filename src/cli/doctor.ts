import { Command, Option } from 'commander';
import { runDoctor, type Check } from '../ops/doctor.js';
import { procReader, type ProcReader } from '../system/proc.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';

// `nftlb doctor`: what this host needs for nftlb, one line per check (ok / warn / fail with the fix). Exit 0 without a
// blocker (warnings included), 10 when a check fails. -q: only the warn and fail lines.
export function doctorCommand(
  ctx: CommandContext,
  exec: Executor = systemExecutor(ctx.env),
  proc: ProcReader = procReader,
): Command {
  return new Command('doctor')
    .description('check nft, kernel features, sysctls, legacy iptables nat rules and tools; exit 10 on a blocker')
    .addOption(new Option('--json', 'print the checks as JSON on stdout'))
    .addOption(new Option('-q, --quiet', 'print only the checks that warn or fail'))
    .action(async (opts: { json?: boolean; quiet?: boolean }) => {
      const json = opts.json === true;
      try {
        const checks = await runDoctor(hostOf(ctx, exec), { proc });
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
        ctx.exit(reportFailure(ctx.io, 'doctor', json, e));
      }
    });
}

const line = (c: Check): string =>
  `${c.level.padEnd(4)}  ${c.name}: ${c.detail}${c.fix === null ? '' : `\n      fix: ${c.fix}`}\n`;
