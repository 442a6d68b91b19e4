import { endpointText } from '../../model/address.js';
import type { HashField } from '../../model/types.js';
import { maglevTable } from '../../plan/maglev.js';
import { contiguousSequence, reduceWeights } from '../../plan/weights.js';
import type { Choice, ImportedBackend, ImportedPool } from './imported.js';
import type { ParsedRule } from './parsed-rule.js';

// Pools of HMARK + `-m mark` rules: source-hash when each backend owns one contiguous run of slots, else Maglev when
// nftlb's Maglev builder gives exactly this table for some weights.

/** Largest HMARK table the importer reads. */
export const MAX_HASH_SLOTS = 100000;

/** Work allowed for the Maglev weight search: candidate weight sets x table size (a second or so at most). */
const MAGLEV_SEARCH_BUDGET = 25_000_000;

const TUPLE: Record<string, HashField> = { src: 'saddr', dst: 'daddr', sport: 'sport', dport: 'dport' };

// HMARK fields from either the input form (--hmark-tuple src,sport) or the saved form (--hmark-src-prefix 32 ...).
function hmarkFields(opts: Record<string, string>): HashField[] {
  if (opts['hmark-tuple'] !== undefined)
    return [
      ...new Set(
        opts['hmark-tuple']
          .split(',')
          .map((x) => TUPLE[x])
          .filter((x): x is HashField => x !== undefined),
      ),
    ];
  const out: HashField[] = [];
  if (opts['hmark-src-prefix'] !== undefined) out.push('saddr');
  if (opts['hmark-dst-prefix'] !== undefined) out.push('daddr');
  if (opts['hmark-sport-mask'] !== undefined) out.push('sport');
  if (opts['hmark-dport-mask'] !== undefined) out.push('dport');
  return out;
}

// Trial division: HMARK tables are at most MAX_HASH_SLOTS.
const isPrime = (n: number): boolean => {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
};

// The pool of an HMARK rule and the mark rules after it (the last one unconditional); a string says why not.
export function hashPool(
  hmark: ParsedRule,
  conds: readonly Choice[],
  last: Choice,
  hint: string | undefined,
): ImportedPool | string {
  const mod = Number(hmark.targetOpts['hmark-mod']);
  const offset = Number(hmark.targetOpts['hmark-offset'] ?? 0);
  const seed = Number(hmark.targetOpts['hmark-rnd'] ?? 0xc175a3b8);
  if (mod > MAX_HASH_SLOTS) return `HMARK table of ${mod} slots is larger than the ${MAX_HASH_SLOTS} the import reads`;
  if (conds.some((c) => c.mark === undefined || c.statistic !== undefined))
    return 'HMARK pool with rules that are not mark matches';
  const fields = hmarkFields(hmark.targetOpts);
  if (fields.length === 0) return 'HMARK hashes none of src, dst, sport, dport';
  const table: (ImportedBackend | undefined)[] = new Array<ImportedBackend | undefined>(mod);
  for (const c of conds) {
    const slot = c.mark! - offset;
    if (slot >= 0 && slot < mod) table[slot] ??= c.backend;
  }
  const slots: ImportedBackend[] = new Array<ImportedBackend>(mod);
  const counts = new Map<ImportedBackend, number>();
  for (let i = 0; i < mod; i++) {
    const b = table[i] ?? last.backend;
    slots[i] = b;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  const backends = [...counts.keys()];
  const weights = backends.map((b) => counts.get(b)!);
  const reduced = reduceWeights(weights);
  const contiguous = contiguousSequence(weights).every((i, k) => slots[k] === backends[i]);
  backends.forEach((b, i) => (b.weight = reduced[i]!));
  if (contiguous && hint !== 'maglev') {
    const symmetric = hint === 'symmetric-hash' && fields.length === 4;
    return {
      scheduler: symmetric ? 'symmetric-hash' : 'source-hash',
      backends,
      ...(symmetric ? {} : { hash: { fields, seed } }),
    };
  }
  // A config's Maglev table is a prime of at least 3 and at least the number of backends.
  const mw =
    isPrime(mod) && mod >= Math.max(3, backends.length) ? maglevWeights(backends, slots, mod, weights) : undefined;
  if (mw === undefined)
    return `HMARK table of ${mod} slots is neither contiguous (source-hash) nor a Maglev table nftlb would build`;
  backends.forEach((b, i) => (b.weight = mw[i]!));
  return { scheduler: 'maglev', backends, hash: { fields, seed, tableSize: mod } };
}

// The weights that make nftlb's Maglev builder produce exactly this slot table: the weights in nftlb's comments first
// (several weight sets can give one small table; the configured one is the one to keep), then the slot counts' ratio,
// then a bounded search over small weights (a small table does not show the weights in its counts).
function maglevWeights(
  backends: readonly ImportedBackend[],
  slots: readonly ImportedBackend[],
  size: number,
  counts: readonly number[],
): number[] | undefined {
  const keys = backends.map((b) => endpointText(b.address, b.port));
  const matches = (w: readonly number[]): boolean => {
    const t = maglevTable(
      keys.map((key, i) => ({ key, weight: w[i]! })),
      size,
    );
    return slots.every((b, j) => backends[t[j]!] === b);
  };
  if (backends.every((b) => b.noted !== undefined)) {
    const noted = reduceWeights(backends.map((b) => b.noted!.weight));
    if (matches(noted)) return noted;
  }
  const first = reduceWeights(counts);
  if (matches(first)) return first;
  const max = Math.floor(Math.pow(20000, 1 / backends.length));
  const w = backends.map(() => 1);
  const candidates = Math.min(Math.pow(Math.max(max, 1), backends.length), Math.floor(MAGLEV_SEARCH_BUDGET / size));
  for (let n = 0; n < candidates; n++) {
    let k = n;
    for (let i = 0; i < w.length; i++) {
      w[i] = (k % max) + 1;
      k = Math.floor(k / max);
    }
    if (reduceWeights(w).every((x, i) => x === w[i]) && matches(w)) return [...w];
  }
  return undefined;
}
