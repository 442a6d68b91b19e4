import { Command, Option } from 'commander';
import { writeFileAtomic } from '../system/atomic-write.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { readStatus, type Status } from '../ops/status.js';
import { reportOpsError } from './apply.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { clusterLine, clusterMetrics } from './cluster-status.js';
import { clusterDirOption, clusterNodeOption } from './render.js';

// `nftlb status`: per service and backend, the config's view (state, weight) with the live figures (new connections
// from the rule counters, current connections and bytes from conntrack). A table, --json, or --prometheus.
export function statusCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  return new Command('status')
    .description('show services and backends with live counters (table, --json, or --prometheus)')
    .addOption(configOption())
    .addOption(new Option('--json', 'print the status as JSON on stdout'))
    .addOption(new Option('--prometheus', 'print node_exporter textfile metrics').conflicts('json'))
    .addOption(
      new Option(
        '-o, --output <file>',
        'write the output to FILE atomically (temporary file + rename) instead of stdout',
      ),
    )
    .addOption(clusterNodeOption())
    .addOption(clusterDirOption())
    .action(
      async (opts: {
        config: string;
        json?: boolean;
        prometheus?: boolean;
        output?: string;
        node?: string;
        clusterDir?: string;
      }) => {
        const json = opts.json === true;
        try {
          const host = hostOf(ctx, exec, { node: opts.node, clusterDir: opts.clusterDir });
          const s = await readStatus(host, { config: opts.config });
          const text = json
            ? `${JSON.stringify({ command: 'status', ...s }, null, 2)}\n`
            : opts.prometheus
              ? prometheus(s)
              : table(s);
          if (opts.output !== undefined) await writeFileAtomic(opts.output, text);
          else ctx.io.out(text);
          ctx.exit(EXIT.ok);
        } catch (e) {
          ctx.exit(reportOpsError(ctx.io, 'status', json, e, opts.config));
        }
      },
    );
}

const LIVE_TEXT: Record<Status['live'], string> = {
  absent: 'not loaded (run nftlb apply)',
  matches: 'live table matches the config',
  differs: 'live table differs from the config (run nftlb diff); counters not shown',
  foreign: 'a table of that name exists but was not made by nftlb',
};

const num = (v: number | null): string => (v === null ? '-' : String(v));

// A backend's state in the table: `drain (override, out)` says where the state comes from and that it takes no new
// connections.
function stateText(b: Status['services'][number]['backends'][number]): string {
  const notes = [...(b.override === null ? [] : ['override']), ...(b.active ? [] : ['out'])];
  return notes.length === 0 ? b.state : `${b.state} (${notes.join(', ')})`;
}

// The human table. With DSR services, a PACKETS column and the service's BYTES: what the balancer forwarded of the
// clients' direction (a DSR service has no connections on the balancer, its NEW and CONNS read -).
export function table(s: Status): string {
  // The PERSIST column (persistence entries per backend) only when some service has persistence; PACKETS (what the
  // netdev table forwarded) only when some service uses DSR.
  const persist = s.services.some((svc) => svc.backends.some((b) => b.persistenceEntries !== undefined));
  const dsr = s.services.some((svc) => svc.forwarding !== 'nat');
  const pk = (v: string): string[] => (dsr ? [v] : []);
  const pe = (v: string): string[] => (persist ? [v] : []);
  const rows: string[][] = [
    [
      'SERVICE',
      'BACKEND',
      'STATE',
      'HEALTH',
      'WEIGHT',
      'NEW',
      ...pk('PACKETS'),
      'CONNS',
      'ESTAB',
      'BYTES',
      ...pe('PERSIST'),
    ],
  ];
  for (const svc of s.services) {
    const isDsr = svc.forwarding !== 'nat';
    rows.push([
      svc.name,
      `${svc.vips.join(',')} ${svc.protocols.join(',')}/${svc.ports.join(',')}${isDsr ? ` ${svc.forwarding}` : ''}`,
      svc.state,
      '',
      '',
      num(svc.newConnections),
      ...pk(isDsr ? num(svc.packets) : ''),
      '',
      '',
      isDsr ? num(svc.bytes) : '',
      ...pe(''),
    ]);
    for (const b of svc.backends)
      rows.push([
        '',
        b.endpoint,
        stateText(b),
        b.health,
        String(b.weight),
        '',
        ...pk(''),
        num(b.connections),
        num(b.established),
        num(b.bytes),
        ...pe(b.persistenceEntries === undefined ? '' : num(b.persistenceEntries)),
      ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const notes = [
    s.tables.length <= 1
      ? `table inet ${s.table}: ${LIVE_TEXT[s.live]}`
      : `${s.tables.map((t) => `table ${t}`).join(' and ')}: ${LIVE_TEXT[s.live].replace('live table matches', 'live tables match')}`,
  ];
  if (s.cluster !== undefined) notes.push(clusterLine(s.cluster));
  if (!s.conntrack.available)
    notes.push(`conntrack: unavailable (${s.conntrack.reason ?? ''}); CONNS/ESTAB/BYTES not shown`);
  else if (!s.conntrack.accounting)
    notes.push('conntrack accounting is off (sysctl net.netfilter.nf_conntrack_acct=1 enables BYTES)');
  if (s.forward !== undefined) notes.push(forwardNote(s.forward));
  return `${notes.join('\n')}\n${lines.join('\n')}\n`;
}

// The forward filter's line: what it lets through and what it dropped.
function forwardNote(f: NonNullable<Status['forward']>): string {
  const accept =
    f.accept.length === 0 ? 'balanced connections only' : `balanced connections and ${f.accept.join(', ')}`;
  const dropped = f.dropped === null ? '-' : `${f.dropped.packets} packets (${f.dropped.bytes} bytes)`;
  return `forward filter: policy drop (${accept}); dropped ${dropped}`;
}

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

// node_exporter textfile format: HELP/TYPE once per metric, then samples; values null are left out.
export function prometheus(s: Status): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: string,
    help: string,
    samples: [Record<string, string>, number | null][],
  ): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      if (v === null) continue;
      const ls = Object.entries({ table: s.table, ...labels })
        .map(([k, x]) => `${k}="${label(x)}"`)
        .join(',');
      out.push(`${name}{${ls}} ${v}`);
    }
  };
  const be = s.services.flatMap((svc) =>
    svc.backends.map((b) => ({ svc, b, l: { service: svc.name, backend: b.endpoint } })),
  );
  metric('nftlb_live_matches_config', 'gauge', '1 when the live table carries the fingerprint of the config.', [
    [{}, s.live === 'matches' ? 1 : 0],
  ]);
  metric(
    'nftlb_service_up',
    'gauge',
    '1 when at least one backend of the service is up.',
    s.services.map((svc) => [{ service: svc.name }, svc.state === 'up' ? 1 : 0]),
  );
  metric(
    'nftlb_service_new_connections_total',
    'counter',
    'New connections dispatched to the service since the table was loaded.',
    s.services.map((svc) => [{ service: svc.name }, svc.newConnections]),
  );
  metric(
    'nftlb_service_forwarded_packets_total',
    'counter',
    "DSR: packets of the clients' direction the balancer forwarded since the table was loaded.",
    s.services.map((svc) => [{ service: svc.name }, svc.packets]),
  );
  metric(
    'nftlb_service_forwarded_bytes_total',
    'counter',
    "DSR: bytes of the clients' direction the balancer forwarded since the table was loaded.",
    s.services.map((svc) => [{ service: svc.name }, svc.bytes]),
  );
  metric(
    'nftlb_backend_up',
    'gauge',
    '1 when the backend takes new connections.',
    be.map(({ b, l }) => [l, b.state === 'up' ? 1 : 0]),
  );
  metric(
    'nftlb_backend_active',
    'gauge',
    '1 when new connections can go to the backend now (config state and health check).',
    be.map(({ b, l }) => [l, b.active ? 1 : 0]),
  );
  metric(
    'nftlb_backend_weight',
    'gauge',
    'Configured weight of the backend.',
    be.map(({ b, l }) => [l, b.weight]),
  );
  metric(
    'nftlb_backend_override',
    'gauge',
    'Present (1) while the operator overrides the state of the backend (nftlb backend drain|down); label state.',
    be.filter(({ b }) => b.override !== null).map(({ b, l }) => [{ ...l, state: b.override! }, 1]),
  );
  metric(
    'nftlb_backend_connections',
    'gauge',
    'Conntrack entries of the backend (any state).',
    be.map(({ b, l }) => [l, b.connections]),
  );
  metric(
    'nftlb_backend_established_connections',
    'gauge',
    'Established TCP connections and UDP flows of the backend.',
    be.map(({ b, l }) => [l, b.established]),
  );
  metric(
    'nftlb_backend_bytes',
    'gauge',
    'Bytes of the current conntrack entries of the backend, both directions.',
    be.map(({ b, l }) => [l, b.bytes]),
  );
  if (s.forward !== undefined) {
    metric('nftlb_forward_dropped_packets_total', 'counter', 'Forwarded packets the forward filter dropped.', [
      [{}, s.forward.dropped?.packets ?? null],
    ]);
    metric(
      'nftlb_forward_dropped_bytes_total',
      'counter',
      'Bytes of the forwarded packets the forward filter dropped.',
      [[{}, s.forward.dropped?.bytes ?? null]],
    );
  }
  const persistent = be.filter(({ b }) => b.persistenceEntries !== undefined);
  if (persistent.length > 0)
    metric(
      'nftlb_backend_persistence_entries',
      'gauge',
      'Persistence entries (clients kept on it) that name the backend.',
      persistent.map(({ b, l }) => [l, b.persistenceEntries ?? null]),
    );
  if (s.cluster !== undefined) for (const m of clusterMetrics(s.cluster)) metric(m.name, m.type, m.help, m.samples);
  return `${out.join('\n')}\n`;
}
