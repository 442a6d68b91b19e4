import type { Diagnostic } from '../../common/diagnostic.js';
import { error, warning, type Rule } from './rule.js';

// hash options only mean something for hashing schedulers; a Maglev table must be a prime larger than the backend count.
export const hashOptions: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const h = raw.services[i]?.hash;
    if (h === undefined) continue;
    const path = `${s.path}/hash`;
    const kind = s.scheduler.kind;
    if (kind !== 'source-hash' && kind !== 'maglev') {
      const why =
        kind === 'symmetric-hash'
          ? 'symmetric-hash hashes both addresses and ports with a kernel seed'
          : `scheduler ${kind} does not hash`;
      out.push(
        error(path, 'hash.unused', `hash options have no effect: ${why}; remove "hash" or use source-hash or maglev`),
      );
      continue;
    }
    if (h['table-size'] !== undefined && kind !== 'maglev') {
      out.push(
        error(`${path}/table-size`, 'hash.table-size-unused', 'table-size applies to the maglev scheduler only'),
      );
    }
    if (s.scheduler.kind === 'maglev') {
      const m = s.scheduler.tableSize;
      const n = s.backends.length;
      if (!isPrime(m))
        out.push(
          error(
            `${path}/table-size`,
            'hash.table-size-prime',
            `expected a prime table size, got ${m} (try ${nextPrime(m)})`,
          ),
        );
      else if (m < n)
        out.push(
          error(`${path}/table-size`, 'hash.table-size-small', `table size ${m} is smaller than the ${n} backends`),
        );
      else if (m < 100 * n) {
        out.push(
          warning(
            `${path}/table-size`,
            'hash.table-size-low',
            `table size ${m} is below 100 x ${n} backends; shares will be uneven (try ${nextPrime(100 * n)})`,
          ),
        );
      }
    }
  }
  return out;
};

// Trial division: table sizes are at most about a million.
export function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

// The smallest prime >= n.
export function nextPrime(n: number): number {
  let m = Math.max(2, n);
  while (!isPrime(m)) m++;
  return m;
}
