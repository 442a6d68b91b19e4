import test from 'ava';
import { FRESH, step, type HealthRecord } from '../../src/health/machine.js';

const now = new Date('2026-01-01T00:00:00Z');
const run = (
  rec: HealthRecord,
  results: boolean[],
  limits = { rise: 2, fall: 3 },
): { rec: HealthRecord; changes: string[] } => {
  const changes: string[] = [];
  for (const ok of results) {
    const r = step(rec, ok, ok ? 'connected' : 'ECONNREFUSED', limits, now);
    rec = r.record;
    if (r.transition) changes.push(`${r.transition.from}->${r.transition.to}`);
  }
  return { rec, changes };
};

test('a fresh backend goes up after rise passes and down after fall failures', (t) => {
  t.deepEqual(run(FRESH, [true]).rec.state, 'unknown');
  t.deepEqual(run(FRESH, [true, true]).changes, ['unknown->up']);
  t.deepEqual(run(FRESH, [false, false, false]).changes, ['unknown->down']);
});

test('failures must be consecutive: a pass in between restarts the count', (t) => {
  const up = run(FRESH, [true, true]).rec;
  const r = run(up, [false, false, true, false, false]);
  t.deepEqual(r.changes, []);
  t.is(r.rec.state, 'up');
  t.is(r.rec.fails, 2);
  t.deepEqual(run(r.rec, [false]).changes, ['up->down']);
});

test('a down backend returns only after rise passes in a row', (t) => {
  const down = run(FRESH, [false, false, false]).rec;
  t.deepEqual(run(down, [true, false, true]).changes, []);
  const back = run(down, [true, true]);
  t.deepEqual(back.changes, ['down->up']);
  t.is(back.rec.since, now.toISOString());
});

test('the transition reason names the run and the last check', (t) => {
  const r = step({ ...FRESH, state: 'up', fails: 1 }, false, 'ECONNREFUSED', { rise: 2, fall: 2 }, now);
  t.is(r.transition?.reason, '2 failures in a row, last: ECONNREFUSED');
  t.is(r.record.reason, 'ECONNREFUSED');
  t.is(r.record.lastOk, false);
});
