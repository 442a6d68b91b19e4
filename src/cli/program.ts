import { Command, CommanderError } from 'commander';
import { IDENTITY } from '../common/version.js';
import { checkCommand } from './check.js';
import type { CommandContext } from './context.js';
import { printEnvelope } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { renderCommand } from './render.js';
import { applyCommand } from './apply.js';
import { removeCommand } from './remove.js';
import { statusCommand } from './status.js';
import { diffCommand } from './diff.js';
import { doctorCommand } from './doctor.js';
import { healthCommand } from './health.js';
import { importCommand } from './import.js';
import { persistenceCommand } from './persistence.js';
import { backendSetupCommand } from './backend-setup.js';
import { traceCommand } from './trace.js';
import { backendCommand } from './backend.js';
import { whichCommand } from './which.js';
import { clusterCommand } from './cluster.js';

// Builds the command tree. Each command lives in its own file and is registered here.
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('nftlb')
    .description('Compile a layer-4 load-balancer config into one atomic nftables script, and load it.')
    .version(IDENTITY, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
  program.addCommand(renderCommand(ctx));
  program.addCommand(checkCommand(ctx));
  program.addCommand(applyCommand(ctx));
  program.addCommand(removeCommand(ctx));
  program.addCommand(statusCommand(ctx));
  program.addCommand(diffCommand(ctx));
  program.addCommand(doctorCommand(ctx));
  program.addCommand(healthCommand(ctx));
  program.addCommand(backendCommand(ctx));
  program.addCommand(importCommand(ctx));
  program.addCommand(persistenceCommand(ctx));
  program.addCommand(backendSetupCommand(ctx));
  program.addCommand(traceCommand(ctx));
  program.addCommand(whichCommand(ctx));
  program.addCommand(clusterCommand(ctx));
  const configure = (c: Command): void => {
    c.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
    for (const sub of c.commands) configure(sub);
  };
  for (const c of program.commands) configure(c);
  return program;
}

// Runs nftlb with argv (without node and script) and returns the exit code; never calls process.exit itself.
export async function run(
  argv: readonly string[],
  io: CommandContext['io'],
  env: NodeJS.ProcessEnv = process.env,
  self?: readonly string[],
  noopMissed?: string,
): Promise<number> {
  let code: number = EXIT.ok;
  const ctx: CommandContext = {
    io,
    env,
    exit: (c) => {
      code = c;
    },
    ...(self === undefined ? {} : { self }),
    ...(noopMissed === undefined ? {} : { noopMissed }),
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exitCode 0; everything else commander rejects is a usage error, which --json
      // reports as an envelope too (commander has said it on stderr).
      if (e.exitCode === 0) return EXIT.ok;
      if (argv.includes('--json')) {
        const command = argv.find((a) => program.commands.some((c) => c.name() === a)) ?? 'nftlb';
        // trace's output is one JSON object per line, its error envelope the summary line (as trace prints it).
        const trace = command === 'trace';
        printEnvelope(
          io,
          command,
          'error',
          EXIT.usage,
          trace ? { kind: 'summary' } : {},
          {
            code: 'usage',
            message: e.message.replace(/^error: /, ''),
            detail: null,
          },
          trace ? 'line' : 'pretty',
        );
      }
      return EXIT.usage;
    }
    throw e;
  }
  return code;
}
