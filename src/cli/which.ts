import { Command, InvalidArgumentError, Option } from 'commander';
import { systemExecutor, type Executor } from '../system/executor.js';
import { parseClient, whichBackend, type Client, type WhichReport } from '../ops/which.js';
import { stateDirOption } from './health.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';

// `nftlb which`: the backend a source-hash or maglev service gives each client, computed offline as the kernel does;
// the same answer on every node with the same config and health verdicts. One line per client, or JSON.
export function whichCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  return new Command('which')
    .description('print the backend a hash scheduler picks for each client, computed as the kernel does (no traffic)')
    .argument(
      '<client...>',
      'CLIENT or CLIENT:PORT ([IPv6]:PORT): the client address and, when hashed, its port',
      (v, prev: Client[] = []) => {
        const c = parseClient(v);
        if (c === undefined) throw new InvalidArgumentError(`expected ADDRESS or ADDRESS:PORT ([IPv6]:PORT), got ${v}`);
        return [...prev, c];
      },
    )
    .addOption(configOption())
    .addOption(new Option('--service <name>', 'the service (source-hash or maglev; required)').makeOptionMandatory())
    .addOption(
      new Option('--vip <address>', 'the VIP the client connects to (needed when a service hashes daddr over several)'),
    )
    .addOption(
      new Option(
        '--port <port>',
        'the service port the client connects to (needed when it hashes dport over several)',
      ).argParser((v) => {
        const n = Number(v);
        if (!/^\d{1,5}$/.test(v) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port 1-65535');
        return n;
      }),
    )
    .addOption(stateDirOption())
    .addOption(new Option('--json', 'print the answers as JSON on stdout'))
    .action(
      async (
        clients: Client[],
        opts: { config: string; service: string; vip?: string; port?: number; stateDir?: string; json?: boolean },
      ) => {
        const json = opts.json === true;
        try {
          const r = await whichBackend(hostOf(ctx, exec, { stateDir: opts.stateDir }), {
            config: opts.config,
            service: opts.service,
            clients,
            ...(opts.vip !== undefined ? { vip: opts.vip } : {}),
            ...(opts.port !== undefined ? { port: opts.port } : {}),
          });
          if (json) printEnvelope(ctx.io, 'which', 'answered', EXIT.ok, r);
          else ctx.io.out(text(r));
          for (const n of r.notes) ctx.io.err(`nftlb: note: ${n}\n`);
          ctx.exit(EXIT.ok);
        } catch (e) {
          ctx.exit(reportFailure(ctx.io, 'which', json, e, opts.config, { service: opts.service }));
        }
      },
    );
}

// One line per client: `CLIENT -> BACKEND (id N, slot S of M)`.
function text(r: WhichReport): string {
  return r.answers
    .map((a) => {
      const to = a.dport === null ? a.vip : `${a.vip.includes(':') ? `[${a.vip}]` : a.vip}:${a.dport}`;
      const where =
        a.backend === null
          ? 'no backend up (the service refuses or drops new connections: on-empty)'
          : `${a.backend} (id ${a.id}${a.slot === null ? ', the only backend up' : `, slot ${a.slot}`})`;
      return `${a.client} -> ${to}: ${where}\n`;
    })
    .join('');
}
