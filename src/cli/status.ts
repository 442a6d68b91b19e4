import { Command, InvalidArgumentError, Option } from 'commander';
import { writeFileAtomic } from '../system/atomic-write.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { readStatus, type BackendStatus, type Status } from '../ops/status.js';
import { configOption, hostOf, outputOf, since, type CommandContext } from './context.js';
import { reportFailure, type Envelope } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { count } from './io.js';
import { VERSION } from '../common/version.js';
import { clusterLine, clusterMetrics } from './cluster-status.js';
import { clusterDirOption, clusterNodeOption } from './render.js';

// `nftlb status`: per service and backend, the config's view (state, weight) with the live figures (new connections
// from the rule counters, current connections and bytes from conntrack). A table, --json, or --prometheus. -v: where
// the figures came from (live table, conntrack entries) and the time taken.
export function statusCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  return new Command('status')
    .description('show services and backends with live counters (table, --json, or --prometheus)')
    .addOption(configOption())
    .addOption(new Option('--json', 'print the status as JSON on stdout'))
    .addOption(new Option('--prometheus', 'print node_exporter textfile metrics').conflicts('json'))
    .addOption(
      new Option(
        '-o, --output <file>',
        'write the output to FILE (in a directory that exists) atomically (temporary file + rename) instead of stdout',
      ).argParser((v: string) => {
        if (v === '' || v.endsWith('/')) throw new InvalidArgumentError('expected a file name');
        return v;
      }),
    )
    .addOption(new Option('-v, --verbose', 'also print on stderr where the figures came from, with the time taken'))
    .addOption(clusterNodeOption())
    .addOption(clusterDirOption())
    .action(
      async (opts: {
        config: string;
        json?: boolean;
        prometheus?: boolean;
        output?: string;
        verbose?: boolean;
        node?: string;
        clusterDir?: string;
      }) => {
        const json = opts.json === true;
        const out = outputOf(ctx, opts);
        try {
          const t0 = performance.now();
          const host = hostOf(ctx, exec, { node: opts.node, clusterDir: opts.clusterDir });
          let source = '';
          const s = await readStatus(host, {
            config: opts.config,
            stage: (x) => out.progress.step(x),
            source: (x) => (source = x),
          });
          out.progress.step('writing');
          const pieces = json ? [statusJson(s)] : opts.prometheus ? prometheus(s) : [table(s)];
          // Into a directory that exists: a mistyped path is an error, not new directories.
          if (opts.output !== undefined) await writeFileAtomic(opts.output, pieces.join(''), { parents: false });
          else for (const piece of pieces) out.io.out(piece);
          out.progress.done();
          const backends = s.services.reduce((n, svc) => n + svc.backends.length, 0);
          out.detail(
            `${s.tables.map((t) => `table ${t}`).join(' and ')}: live ${s.live}; ${count(s.services.length, 'service')}, ${count(backends, 'backend')}; conntrack: ${s.conntrack.available ? `${s.conntrack.entries ?? 0} entries` : 'unavailable'}; ${source} (${since(t0)})`,
          );
          ctx.exit(EXIT.ok);
        } catch (e) {
          out.progress.done();
          ctx.exit(reportFailure(out.io, 'status', json, e, opts.config));
        }
      },
    );
}

// The --json output: the envelope, then the status.
function statusJson(s: Status): string {
  const head: Envelope = { command: 'status', result: 'ok', exitCode: EXIT.ok, error: null };
  return `${JSON.stringify({ ...head, ...s }, null, 2)}\n`;
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
  if (s.liveNote !== undefined) notes.push(`  (${s.liveNote})`);
  if (!s.conntrack.available)
    notes.push(`conntrack: unavailable (${s.conntrack.reason ?? ''}); CONNS/ESTAB/BYTES not shown`);
  else if (!s.conntrack.accounting)
    notes.push('conntrack accounting is off (sysctl net.netfilter.nf_conntrack_acct=1 enables BYTES)');
  if (s.forward !== undefined) notes.push(forwardNote(s.forward));
  if (s.cluster !== undefined) notes.push(clusterLine(s.cluster));
  return `${notes.join('\n')}\n${lines.join('\n')}\n`;
}

// The forward filter's line: what it lets through and what it dropped.
function forwardNote(f: NonNullable<Status['forward']>): string {
  const accept =
    f.accept.length === 0 ? 'balanced connections only' : `balanced connections and ${f.accept.join(', ')}`;
  const dropped = f.dropped === null ? '-' : `${f.dropped.packets} packets (${f.dropped.bytes} bytes)`;
  return `forward filter: policy drop (${accept}); dropped ${dropped}`;
}

// A label value in the exposition format: backslash, double quote and line feed escaped.
export const labelValue = (v: string): string =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;

/** A sample's labels: already written in full (`table="t",service="s"`), or names and values to write after the
 *  labels every sample of the exposition carries. */
export type Labels = string | Readonly<Record<string, string>>;

// Prometheus text exposition format (what node_exporter's textfile collector and a scrape read): HELP and TYPE once
// per metric, then its samples; null values are left out. `head` is the labels every sample carries (the table). Label
// sets are best written by the caller once and shared by every metric that uses them: 10k services x 4 backends are
// 260,000 samples.
export class Exposition {
  private readonly done: string[] = [];
  private lines: string[] = [];
  constructor(private readonly head: string) {}

  // The labels written as text, after the ones every sample carries.
  labels(l: Labels): string {
    if (typeof l === 'string') return l;
    let text = this.head;
    for (const k in l) text += `${text === '' ? '' : ','}${k}="${labelValue(l[k]!)}"`;
    return text;
  }

  metric(name: string, type: string, help: string, samples: readonly (readonly [Labels, number | null])[]): void {
    this.line(`# HELP ${name} ${help}`);
    this.line(`# TYPE ${name} ${type}`);
    for (let i = 0; i < samples.length; i++) {
      const [l, v] = samples[i]!;
      if (v !== null) this.line(`${name}{${this.labels(l)}} ${v}`);
    }
  }

  // One metric over many items without a [labels, value] pair per sample: labels[i] is items[i]'s label text.
  series<T>(
    name: string,
    type: string,
    help: string,
    items: readonly T[],
    labels: readonly string[],
    value: (item: T) => number | null,
  ): void {
    this.line(`# HELP ${name} ${help}`);
    this.line(`# TYPE ${name} ${type}`);
    for (let i = 0; i < items.length; i++) {
      const v = value(items[i]!);
      if (v !== null) this.line(`${name}{${labels[i]!}} ${v}`);
    }
  }

  // Lines are joined a few thousand at a time: each piece is one flat string of ~200 KB (V8 puts it straight into its
  // large-object space), and the lines and their parts die young. Keeping every line, or one string grown with +=,
  // until the end made the garbage collector copy them all (two thirds of the time at 10k services).
  private line(text: string): void {
    this.lines.push(text);
    if (this.lines.length === PIECE_LINES) this.flush();
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    this.lines.push('');
    this.done.push(this.lines.join('\n'));
    this.lines = [];
  }

  // The text in pieces whose concatenation is the exposition.
  pieces(): string[] {
    this.flush();
    return [...this.done];
  }

  text(): string {
    return this.pieces().join('');
  }
}

const PIECE_LINES = 2048;

// nftlb_build_info: which nftlb (and which Node.js runs it) wrote the metrics. Like every nftlb metric it carries the
// table, so the files of several tables in one textfile directory do not repeat a series (node_exporter refuses that).
export function buildInfo(m: Exposition): void {
  m.metric('nftlb_build_info', 'gauge', 'nftlb version and the Node.js version running it; always 1.', [
    [{ version: VERSION, node: process.version }, 1],
  ]);
}

// The status as metrics (`status --prometheus`, and the status part of health's /metrics).
export function prometheus(s: Status): string[] {
  const head = `table="${labelValue(s.table)}"`;
  const m = new Exposition(head);
  const metric = m.metric.bind(m);
  const sl = s.services.map((svc) => `${head},service="${labelValue(svc.name)}"`);
  // Every backend with its label text, side by side: written once, used by each backend metric.
  const bs: BackendStatus[] = [];
  const bl: string[] = [];
  s.services.forEach((svc, i) => {
    for (const b of svc.backends) {
      bs.push(b);
      bl.push(`${sl[i]!},backend="${labelValue(b.endpoint)}"`);
    }
  });
  const backends = (name: string, help: string, value: (b: BackendStatus) => number | null): void =>
    m.series(name, 'gauge', help, bs, bl, value);
  buildInfo(m);
  metric('nftlb_live_matches_config', 'gauge', '1 when the live table carries the fingerprint of the config.', [
    [head, s.live === 'matches' ? 1 : 0],
  ]);
  metric(
    'nftlb_service_up',
    'gauge',
    '1 when at least one backend of the service is up.',
    s.services.map((svc, i) => [sl[i]!, svc.state === 'up' ? 1 : 0]),
  );
  metric(
    'nftlb_service_new_connections_total',
    'counter',
    "New connections dispatched to the service since its chains were last written (a full load writes every service's; a delta those of the services that changed).",
    s.services.map((svc, i) => [sl[i]!, svc.newConnections]),
  );
  metric(
    'nftlb_service_forwarded_packets_total',
    'counter',
    "DSR: packets of the clients' direction the balancer forwarded since the table was loaded.",
    s.services.map((svc, i) => [sl[i]!, svc.packets]),
  );
  metric(
    'nftlb_service_forwarded_bytes_total',
    'counter',
    "DSR: bytes of the clients' direction the balancer forwarded since the table was loaded.",
    s.services.map((svc, i) => [sl[i]!, svc.bytes]),
  );
  backends(
    'nftlb_backend_up',
    "1 when the backend's state (the config's, or an override's) is up; nftlb_backend_active says whether it takes new connections.",
    (b) => (b.state === 'up' ? 1 : 0),
  );
  backends(
    'nftlb_backend_active',
    '1 when new connections can go to the backend now (state, health check, spill).',
    (b) => (b.active ? 1 : 0),
  );
  backends('nftlb_backend_weight', 'Configured weight of the backend.', (b) => b.weight);
  // Only the overridden backends, each with its override as the label state.
  const overridden: [string, number][] = [];
  for (let i = 0; i < bs.length; i++)
    if (bs[i]!.override !== null) overridden.push([`${bl[i]!},state="${labelValue(bs[i]!.override!)}"`, 1]);
  metric(
    'nftlb_backend_override',
    'gauge',
    'Present (1) while the operator overrides the state of the backend (nftlb backend drain|down); label state.',
    overridden,
  );
  backends('nftlb_backend_connections', 'Conntrack entries of the backend (any state).', (b) => b.connections);
  backends(
    'nftlb_backend_established_connections',
    'Established TCP connections and UDP flows of the backend.',
    (b) => b.established,
  );
  backends(
    'nftlb_backend_bytes',
    'Bytes of the current conntrack entries of the backend, both directions.',
    (b) => b.bytes,
  );
  if (s.forward !== undefined) {
    metric('nftlb_forward_dropped_packets_total', 'counter', 'Forwarded packets the forward filter dropped.', [
      [head, s.forward.dropped?.packets ?? null],
    ]);
    metric(
      'nftlb_forward_dropped_bytes_total',
      'counter',
      'Bytes of the forwarded packets the forward filter dropped.',
      [[head, s.forward.dropped?.bytes ?? null]],
    );
  }
  // Only when some service has persistence (backends without it have no persistenceEntries, and no sample).
  if (bs.some((b) => b.persistenceEntries !== undefined))
    backends(
      'nftlb_backend_persistence_entries',
      'Persistence entries (clients kept on it) that name the backend.',
      (b) => b.persistenceEntries ?? null,
    );
  if (s.cluster !== undefined) for (const c of clusterMetrics(s.cluster)) metric(c.name, c.type, c.help, c.samples);
  return m.pieces();
}
