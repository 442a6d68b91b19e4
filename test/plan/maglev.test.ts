import test from 'ava';
import { maglevTable } from '../../src/plan/maglev.js';

const backends = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `198.51.100.${i + 2}:8080`, weight: 1 }));

test('every slot is filled and shares are near equal', (t) => {
  const m = 4093;
  const table = maglevTable(backends(4), m);
  const counts = [0, 0, 0, 0];
  for (const v of table) counts[v]! += 1;
  t.false(table.includes(-1));
  for (const c of counts) t.true(Math.abs(c - m / 4) <= 2, `share ${c} of ${m}`);
});

test('removing one of N backends moves about 1/N of the slots', (t) => {
  for (const n of [3, 5, 10]) {
    const m = 4093;
    const all = backends(n);
    const before = maglevTable(all, m);
    const removed = all[1]!.key;
    const rest = all.filter((b) => b.key !== removed);
    const after = maglevTable(rest, m);
    let moved = 0;
    for (let j = 0; j < m; j++) {
      const was = all[before[j]!]!.key;
      const now = rest[after[j]!]!.key;
      if (was !== now) moved++;
    }
    const frac = moved / m;
    t.log(`N=${n}: moved ${(frac * 100).toFixed(1)}% (1/N = ${(100 / n).toFixed(1)}%)`);
    // Slots of the removed backend must move (1/N); Maglev adds a little extra disruption, bounded here at 1.5/N.
    t.true(frac >= 1 / n - 0.01 && frac <= 1.5 / n, `moved fraction ${frac}`);
  }
});

test('the table does not depend on the order backends are listed in', (t) => {
  const a = maglevTable(backends(5), 251);
  const reversed = backends(5).reverse();
  const b = maglevTable(reversed, 251);
  const keyA = Array.from(a, (i) => backends(5)[i]!.key);
  const keyB = Array.from(b, (i) => reversed[i]!.key);
  t.deepEqual(keyA, keyB);
});

test('weights take proportional shares', (t) => {
  const table = maglevTable(
    [
      { key: 'a', weight: 3 },
      { key: 'b', weight: 1 },
    ],
    4093,
  );
  const a = Array.from(table).filter((v) => v === 0).length;
  t.true(Math.abs(a / 4093 - 0.75) < 0.01, `share ${a / 4093}`);
});
