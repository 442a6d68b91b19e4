import { Command, InvalidArgumentError, Option } from 'commander';
import type { Endpoint } from '../nft/trace-events.js';
import { runTrace, type TracedView } from '../ops/trace.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { parseWait } from './apply.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count } from './io.js';
import type { SignalSource } from './health.js';

// Parses a positive whole number up to `max`.
const bounded =
  (max: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || n < 1 || n > max) throw new InvalidArgumentError(`expected a whole number, 1..${max}`);
    return n;
  };

// `nftlb trace`: follows matching new connections through the live table and prints, per connection, where it went:
// client -> VIP:port -> service -> selector value -> backend -> NAT address. Ends after --count connections or
// --seconds, or on SIGINT/SIGTERM; its rules are removed in every case (and by the next apply or trace after a crash).
export function traceCommand(
  ctx: CommandContext,
  exec: Executor = systemExecutor(ctx.env),
  signals: SignalSource = process,
): Command {
  return new Command('trace')
    .description('trace new connections through the live table: client, VIP, service, selector, backend, NAT address')
    .addOption(configOption())
    .addOption(new Option('--service <name>', 'only connections to this service'))
    .addOption(new Option('--client <address>', 'only connections from this address or prefix'))
    .addOption(new Option('--count <n>', 'stop after N connections').argParser(bounded(100000)).default(100))
    .addOption(new Option('--seconds <t>', 'stop after T seconds').argParser(bounded(86400)).default(60))
    .addOption(new Option('--json', 'print one JSON object per connection (and a summary) on stdout'))
    .addOption(new Option('--wait <seconds>', 'wait up to SECONDS for the apply lock').argParser(parseWait).default(10))
    .addOption(
      new Option('--lock-file <file>', 'lock file shared with apply (default: $NFTLB_LOCK or /run/nftlb/apply.lock)'),
    )
    .action(
      async (opts: {
        config: string;
        service?: string;
        client?: string;
        count: number;
        seconds: number;
        json?: boolean;
        wait: number;
        lockFile?: string;
      }) => {
        const json = opts.json === true;
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        signals.on('SIGINT', onSignal);
        signals.on('SIGTERM', onSignal);
        try {
          const summary = await runTrace(
            hostOf(ctx, exec, { lockFile: opts.lockFile }),
            {
              config: opts.config,
              ...(opts.service === undefined ? {} : { service: opts.service }),
              ...(opts.client === undefined ? {} : { client: opts.client }),
              count: opts.count,
              seconds: opts.seconds,
              waitSeconds: opts.wait,
              signal: stop.signal,
            },
            {
              ready: (r) =>
                ctx.io.err(
                  `nftlb trace: tracing new connections${r.service === null ? '' : ` of service ${r.service}`}${r.client === null ? '' : ` from ${r.client}`} in table inet ${r.table} (at most ${r.count}, ${r.seconds} s; Ctrl-C stops)\n`,
                ),
              connection: (c) =>
                ctx.io.out(json ? `${JSON.stringify({ kind: 'connection', ...c })}\n` : `${traceLine(c)}\n`),
              warning: (m) => ctx.io.err(`nftlb trace: warning: ${m}\n`),
            },
          );
          // The summary is the envelope, on one line like the connections: every line of the output parses on its own.
          if (json) printEnvelope(ctx.io, 'trace', 'traced', EXIT.ok, { kind: 'summary', ...summary }, null, 'line');
          ctx.io.err(
            `nftlb trace: ${count(summary.connections, 'connection')} traced (${ENDED[summary.ended]}); ${summary.reloaded ? 'the table was reloaded meanwhile, which ended the tracing' : 'trace rules removed'}\n`,
          );
          ctx.exit(EXIT.ok);
        } catch (e) {
          ctx.exit(reportFailure(ctx.io, 'trace', json, e, opts.config, { kind: 'summary' }, 'line'));
        } finally {
          signals.off('SIGINT', onSignal);
          signals.off('SIGTERM', onSignal);
        }
      },
    );
}

const ENDED = {
  count: 'count reached',
  seconds: 'time up',
  signal: 'stopped',
  monitor: 'nft monitor ended',
  reload: 'the table was reloaded',
} as const;

const endpoint = (e: Endpoint): string => {
  const host = e.address.includes(':') ? `[${e.address}]` : e.address;
  return e.port === null ? e.address : `${host}:${e.port}`;
};

// One connection as a line: client -> VIP:port proto -> service -> selector value -> backend -> NAT address.
export function traceLine(c: TracedView): string {
  const parts = [endpoint(c.client), `${endpoint(c.vip)}${c.protocol === null ? '' : ` ${c.protocol}`}`];
  parts.push(c.service ?? '?');
  if (c.outcome === 'no-backend') return [...parts, `no backend up (${c.by ?? '?'})`].join(' -> ');
  const sel = c.selector;
  parts.push(
    sel === null
      ? '?'
      : sel.kind === 'persistence'
        ? 'persistence'
        : `${c.scheduler ?? sel.expression} ${sel.value} (mark 0x${sel.mark.toString(16).padStart(8, '0')})`,
  );
  parts.push(c.backend === null ? '?' : endpoint(c.backend));
  if (c.outcome === 'dropped') parts.push(`dropped (${c.by ?? '?'})`);
  else if (c.outcome === 'incomplete') parts.push('? (the trace ended first)');
  else parts.push(c.nat === null ? '?' : endpoint(c.nat));
  return parts.join(' -> ');
}
