import type { Model } from '../model/types.js';
import { backendKey, effectiveState, plan } from '../plan/plan.js';
import { FRESH } from './machine.js';
import { currentOverlay, type HealthState } from './state-file.js';

/** One backend's checks as `nftlb health --status` shows them. */
export interface BackendCheck {
  readonly service: string;
  readonly endpoint: string;
  readonly id: number;
  /** The state it is planned with: the config's, or the operator's override where that takes it further out. */
  readonly state: string;
  /** The operator's override (`nftlb backend drain|down`), or null: set, the state above comes from it. */
  readonly override: string | null;
  /** The check verdict: up, down, unknown (not decided yet) or unchecked (no health check). */
  readonly health: 'up' | 'down' | 'unknown' | 'unchecked';
  /** Whether new connections can go to it with the current verdicts (backups outside quorum are not). */
  readonly active: boolean;
  /** limit-overflow spill: at its max-connections at the last count, so out of selection. */
  readonly full: boolean;
  readonly lastCheck: string | null;
  readonly since: string | null;
  readonly reason: string;
}

// What the table looks like with the recorded verdicts and the overrides (the state's `overrides`: the caller reads
// them from their file): per backend, its state, health, last check and reason.
export function checkStatusView(model: Model, state: HealthState): BackendCheck[] {
  const p = plan(model, currentOverlay(state));
  return p.services.flatMap((s, i) => {
    const active = new Set(s.pools.flatMap((pool) => pool.slots));
    return s.backends.map((b, j): BackendCheck => {
      const checked = model.services[i]!.backends[j]!.health !== undefined;
      const rec = state.backends[backendKey(s.name, b.endpoint)] ?? FRESH;
      return {
        service: s.name,
        endpoint: b.endpoint,
        id: b.id,
        state: effectiveState(b),
        override: b.override ?? null,
        health: checked ? rec.state : 'unchecked',
        active: active.has(b.id),
        full: b.full === true,
        lastCheck: checked ? rec.lastCheck : null,
        since: checked ? rec.since : null,
        reason: checked ? rec.reason : '',
      };
    });
  });
}

// The status as aligned text columns.
export function checkStatusText(rows: readonly BackendCheck[]): string {
  const head = ['SERVICE', 'BACKEND', 'ID', 'STATE', 'HEALTH', 'ACTIVE', 'LAST CHECK', 'REASON'];
  const body = rows.map((r) => [
    r.service,
    r.endpoint,
    String(r.id),
    r.override === null ? r.state : `${r.state} (override)`,
    r.health,
    r.active ? 'yes' : r.full ? 'no (full)' : 'no',
    r.lastCheck ?? '-',
    r.reason,
  ]);
  const width = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((x, c) => (c === cells.length - 1 ? x : x.padEnd(width[c]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n`;
}
