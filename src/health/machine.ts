// The rise/fall state machine of one backend, as a pure function over its record.

/** What nftlb remembers about one checked backend between runs (kept in the state file). */
export interface HealthRecord {
  /** unknown until the first rise or fall completes; unknown counts as healthy. */
  readonly state: 'up' | 'down' | 'unknown';
  /** Consecutive passes / failures so far. */
  readonly passes: number;
  readonly fails: number;
  /** ISO time of the last check and its outcome. */
  readonly lastCheck: string | null;
  readonly lastOk: boolean | null;
  readonly reason: string;
  /** ISO time of the last state change. */
  readonly since: string | null;
}

/** A state change caused by a check. */
export interface Transition {
  readonly from: HealthRecord['state'];
  readonly to: 'up' | 'down';
  readonly reason: string;
}

// The record of a backend never checked.
export const FRESH: HealthRecord = {
  state: 'unknown',
  passes: 0,
  fails: 0,
  lastCheck: null,
  lastOk: null,
  reason: 'not checked yet',
  since: null,
};

// Applies one check result: `rise` passes in a row bring a backend up, `fall` failures in a row take it down; a result
// that agrees with the current state only resets the opposite counter.
export function step(
  rec: HealthRecord,
  ok: boolean,
  reason: string,
  limits: { rise: number; fall: number },
  now: Date,
): { record: HealthRecord; transition: Transition | null } {
  const at = now.toISOString();
  const passes = ok ? rec.passes + 1 : 0;
  const fails = ok ? 0 : rec.fails + 1;
  let state = rec.state;
  if (ok && state !== 'up' && passes >= limits.rise) state = 'up';
  if (!ok && state !== 'down' && fails >= limits.fall) state = 'down';
  const changed = state !== rec.state;
  const record: HealthRecord = {
    state,
    passes,
    fails,
    lastCheck: at,
    lastOk: ok,
    reason,
    since: changed ? at : rec.since,
  };
  const run = ok ? `${passes} pass${passes === 1 ? '' : 'es'}` : `${fails} failure${fails === 1 ? '' : 's'}`;
  const transition =
    changed && state !== 'unknown' ? { from: rec.state, to: state, reason: `${run} in a row, last: ${reason}` } : null;
  return { record, transition };
}
