import { join } from 'node:path';
import type { RoundReport } from '../health/round.js';
import type { Executor } from '../system/executor.js';
import { readFileHead } from '../system/files.js';
import type { Host } from '../system/host.js';
import type { Scrape } from '../system/metrics-server.js';
import { buildInfo, Exposition, labelValue } from './status.js';

/** The names of the metrics `nftlb health --watch` adds to those of `nftlb status --prometheus` on /metrics. */
export const HEALTH_METRICS = [
  'nftlb_health_checks_total',
  'nftlb_health_transitions_total',
  'nftlb_health_table_updates_total',
  'nftlb_health_errors_total',
  'nftlb_health_start_time_seconds',
  'nftlb_status_read_ok',
  'nftlb_status_read_duration_seconds',
] as const;

// What `nftlb health --watch` counts for /metrics: checks, transitions, table updates and errors since it started.
export class HealthCounters {
  readonly checks = { pass: 0, fail: 0 };
  readonly transitions = { up: 0, down: 0 };
  readonly updates = { incremental: 0, full: 0 };
  errors = 0;
  readonly started = Date.now() / 1000;

  check(ok: boolean): void {
    this.checks[ok ? 'pass' : 'fail']++;
  }

  round(r: RoundReport): void {
    for (const t of r.transitions) this.transitions[t.to]++;
    if (r.sync.action !== 'none') this.updates[r.sync.action]++;
  }

  // The health part of a scrape; build info only when the status part (which has it) is missing.
  text(table: string, status: { ok: boolean; seconds: number }): string {
    const m = new Exposition(`table="${labelValue(table)}"`);
    if (!status.ok) buildInfo(m);
    m.metric('nftlb_health_checks_total', 'counter', 'Health checks run since nftlb health started, by result.', [
      [{ result: 'pass' }, this.checks.pass],
      [{ result: 'fail' }, this.checks.fail],
    ]);
    m.metric(
      'nftlb_health_transitions_total',
      'counter',
      'Backends that health checks took up or down since nftlb health started.',
      [
        [{ to: 'up' }, this.transitions.up],
        [{ to: 'down' }, this.transitions.down],
      ],
    );
    m.metric(
      'nftlb_health_table_updates_total',
      'counter',
      'Updates of the live table by nftlb health: incremental (a few pools) or full (the whole table).',
      [
        [{ kind: 'incremental' }, this.updates.incremental],
        [{ kind: 'full' }, this.updates.full],
      ],
    );
    m.metric(
      'nftlb_health_errors_total',
      'counter',
      'Rounds of nftlb health that failed (the log says why), since it started.',
      [[{}, this.errors]],
    );
    m.metric('nftlb_health_start_time_seconds', 'gauge', 'When nftlb health started, in seconds since the epoch.', [
      [{}, Math.round(this.started)],
    ]);
    m.metric(
      'nftlb_status_read_ok',
      'gauge',
      '1 when this scrape includes the metrics of nftlb status (live table and conntrack); 0: the log says why.',
      [[{}, status.ok ? 1 : 0]],
    );
    m.metric('nftlb_status_read_duration_seconds', 'gauge', 'How long reading the status part of this scrape took.', [
      [{}, Math.round(status.seconds * 1000) / 1000],
    ]);
    return m.text();
  }
}

/** How health's /metrics gets the status metrics: `self` is the argv that runs nftlb itself (node and its script). */
export interface StatusSource {
  readonly self: readonly string[] | undefined;
  /** Runs nftlb itself, with the environment that gives it health's state directory and lock file. */
  readonly exec: Executor;
  readonly host: Host;
  readonly config: string;
  readonly table: () => string;
  readonly warn: (msg: string) => void;
}

// One scrape: the status metrics come from a child `nftlb status --prometheus -o FILE` (reading the live table and
// conntrack takes ~1 s of CPU at 10k services, which the health loop must not wait for), written atomically into the
// run directory and streamed after health's own metrics.
export function scraper(counters: HealthCounters, src: StatusSource): () => Promise<Scrape> {
  return async () => {
    const table = src.table();
    const file = join(src.host.runDir, `metrics-${table}.prom`);
    const t0 = performance.now();
    let ok = false;
    if (src.self === undefined) src.warn('metrics: the status part needs nftlb run as a program; left out');
    else {
      const [cmd, ...args] = src.self;
      try {
        const r = await src.exec.run(cmd!, [...args, 'status', '--prometheus', '-c', src.config, '-o', file]);
        ok = r.exitCode === 0;
        if (!ok)
          src.warn(
            `metrics: nftlb status exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
          );
        // status reads the config file as it is now: one that names another table (health kept its own: a table
        // name changes only with a restart) describes a table health does not watch, which would pass for its own.
        const other = ok ? await otherTable(file, table) : null;
        if (other !== null) {
          ok = false;
          src.warn(
            `metrics: ${src.config} names table ${other} now, not ${table}, which nftlb health watches (restart it to follow); status part left out`,
          );
        }
      } catch (e) {
        src.warn(`metrics: nftlb status could not run: ${(e as Error).message}`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    return ok ? { text: counters.text(table, { ok, seconds }), file } : { text: counters.text(table, { ok, seconds }) };
  };
}

// The table the status metrics in `file` are of, when it is not `table` (its first sample's label); null otherwise.
async function otherTable(file: string, table: string): Promise<string | null> {
  const head = await readFileHead(file, 4096);
  const m = /^nftlb_\w+\{table="((?:[^"\\]|\\.)*)"/m.exec(head);
  return m === null || m[1] === labelValue(table) ? null : m[1]!;
}
