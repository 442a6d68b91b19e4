import { Command, InvalidArgumentError, Option } from 'commander';
import { parseAddress } from '../model/address.js';
import { flushPersistence, listPersistence, type EntryView } from '../ops/persistence.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';

// `nftlb persistence list|flush`: the live persistence entries (which backend each client is kept on, for how long),
// and their removal, for all services, one service or one client.
export function persistenceCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const filters = (c: Command): Command =>
    c
      .addOption(configOption())
      .addOption(new Option('--service <name>', 'only the entries of this service'))
      .addOption(
        new Option('--client <address>', 'only the entries of this client (the prefix it falls in)').argParser(
          (v: string) => {
            if (parseAddress(v) === undefined) throw new InvalidArgumentError('expected an IPv4 or IPv6 address');
            return v;
          },
        ),
      )
      .addOption(new Option('--json', 'print the outcome as JSON on stdout'));
  type Opts = { config: string; service?: string; client?: string; json?: boolean };
  const filterOf = (o: Opts): { service?: string; client?: string } => ({
    ...(o.service === undefined ? {} : { service: o.service }),
    ...(o.client === undefined ? {} : { client: o.client }),
  });
  const list = filters(
    new Command('list').description('list the live entries: client, service, backend, expiry'),
  ).action(async (o: Opts) => {
    const json = o.json === true;
    try {
      const r = await listPersistence(hostOf(ctx, exec), { config: o.config, ...filterOf(o) });
      if (json) printEnvelope(ctx.io, 'persistence', 'listed', EXIT.ok, { action: 'list', ...r });
      else if (!r.loaded) ctx.io.err(notLoaded(r.table));
      else ctx.io.out(entriesTable(r.entries));
      ctx.exit(EXIT.ok);
    } catch (e) {
      ctx.exit(reportFailure(ctx.io, 'persistence', json, e, o.config, { action: 'list' }));
    }
  });
  const flush = filters(
    new Command('flush').description("remove the live entries (their clients' next connections are scheduled anew)"),
  ).action(async (o: Opts) => {
    const json = o.json === true;
    try {
      const r = await flushPersistence(hostOf(ctx, exec), { config: o.config, ...filterOf(o) });
      if (json) printEnvelope(ctx.io, 'persistence', 'flushed', EXIT.ok, { action: 'flush', ...r });
      else if (!r.loaded) ctx.io.err(notLoaded(r.table));
      else
        ctx.io.err(
          `nftlb: removed ${r.flushed} persistence entr${r.flushed === 1 ? 'y' : 'ies'} of table inet ${r.table}\n`,
        );
      ctx.exit(EXIT.ok);
    } catch (e) {
      ctx.exit(reportFailure(ctx.io, 'persistence', json, e, o.config, { action: 'flush' }));
    }
  });
  return new Command('persistence')
    .description('list or flush the persistence entries of the live table')
    .addCommand(list)
    .addCommand(flush);
}

// The human table of entries; `-` for what is unknown.
export function entriesTable(entries: readonly EntryView[]): string {
  const rows: string[][] = [['SERVICE', 'CLIENT', 'VIP', 'BACKEND', 'ID', 'ACTIVE', 'EXPIRES']];
  for (const e of entries)
    rows.push([
      e.service ?? '-',
      e.client,
      e.vip ?? '-',
      e.backend ?? '-',
      e.id === null ? '-' : String(e.id),
      e.active ? 'yes' : 'no',
      e.expires === null ? '-' : `${e.expires}s`,
    ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

// No table, no entries: said as such rather than as an empty list or "removed 0 entries" of a table that is not there.
const notLoaded = (table: string): string =>
  `nftlb: table inet ${table} is not loaded: it has no persistence entries\n`;
