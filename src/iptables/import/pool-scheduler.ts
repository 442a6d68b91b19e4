import { endpointText } from '../../model/address.js';
import { maglevTable } from '../../plan/maglev.js';
import { contiguousSequence, reduceWeights } from '../../plan/weights.js';
import type { HashField } from '../../model/types.js';
import type { Choice, ImportedBackend, ImportedPool } from './imported.js';
import type { ParsedRule } from './save-parser.js';

/** Longest nth period or hash table the importer simulates. */
const MAX_PERIOD = 100000;

// The backend sequence an nth chain produces over one period (each rule counts only the connections that reach it and
// takes the first of every `every`, as the kernel does; verified by the kernel tests against the render).
function nthSequence(choices: readonly Choice[]): ImportedBackend[] | string {
  const period = choices[0]?.statistic?.mode === 'nth' ? choices[0].statistic.every : 1;
  if (period > MAX_PERIOD) return `nth period ${period} is too long`;
  const counters = choices.map(() => 0);
  const seq: ImportedBackend[] = [];
  for (let n = 0; n < 2 * period; n++) {
    const i = choices.findIndex((c, k) => {
      if (c.statistic?.mode !== 'nth') return true;
      const hit = counters[k]! % c.statistic.every === c.statistic.packet;
      counters[k]!++;
      return hit;
    });
    if (i < 0) return 'some connections match no rule (no unconditional last rule)';
    seq.push(choices[i]!.backend);
  }
  for (let n = 0; n < period; n++)
    if (seq[n] !== seq[n + period]) return 'the nth rules do not repeat with the period of the first rule';
  return seq.slice(0, period);
}

// Smallest integer weights (at most 10000 each) whose shares match the given ones within what 31-bit probabilities and
// 11 printed decimals can carry.
export function weightsFromShares(shares: readonly number[]): number[] | undefined {
  for (let total = shares.length; total <= 100000; total++) {
    const tol = Math.max(1e-6, total * shares.length * 1e-9);
    const w = shares.map((s) => Math.round(s * total));
    if (w.every((x, i) => x >= 1 && x <= 10000 && Math.abs(x - shares[i]! * total) <= tol)) return reduceWeights(w);
  }
  return undefined;
}

const count = (seq: readonly ImportedBackend[]): Map<ImportedBackend, number> => {
  const m = new Map<ImportedBackend, number>();
  for (const b of seq) m.set(b, (m.get(b) ?? 0) + 1);
  return m;
};

const TUPLE: Record<string, HashField> = { src: 'saddr', dst: 'daddr', sport: 'sport', dport: 'dport' };

// HMARK fields from either the input form (--hmark-tuple src,sport) or the saved form (--hmark-src-prefix 32 ...).
function hmarkFields(opts: Record<string, string>): HashField[] {
  if (opts['hmark-tuple'] !== undefined)
    return opts['hmark-tuple']
      .split(',')
      .map((x) => TUPLE[x])
      .filter((x): x is HashField => x !== undefined);
  const out: HashField[] = [];
  if (opts['hmark-src-prefix'] !== undefined) out.push('saddr');
  if (opts['hmark-dst-prefix'] !== undefined) out.push('daddr');
  if (opts['hmark-sport-mask'] !== undefined) out.push('sport');
  if (opts['hmark-dport-mask'] !== undefined) out.push('dport');
  return out;
}

// Recovers the scheduler of a pool from its choices (and HMARK rule); a string says why it could not.
export function poolFromChoices(
  original: readonly Choice[],
  hmark: ParsedRule | undefined,
  hint: string | undefined,
): ImportedPool | string {
  // Recipes share backend chains between services; each pool gets its own backend records (weights differ).
  const copies = new Map<ImportedBackend, ImportedBackend>();
  const own = (b: ImportedBackend): ImportedBackend => copies.get(b) ?? copies.set(b, { ...b }).get(b)!;
  const choices = original.map((c) => ({ ...c, backend: own(c.backend) }));
  const last = choices[choices.length - 1];
  if (last === undefined) return 'no backend choice';
  const conds = choices.slice(0, -1);
  const distinct = (seq: readonly ImportedBackend[]): ImportedBackend[] => [...new Set(seq)];
  if (hmark !== undefined) {
    const mod = Number(hmark.targetOpts['hmark-mod']);
    const offset = Number(hmark.targetOpts['hmark-offset'] ?? 0);
    const seed = Number(hmark.targetOpts['hmark-rnd'] ?? 0xc175a3b8);
    if (!(mod >= 1 && mod <= MAX_PERIOD) || conds.some((c) => c.mark === undefined || c.statistic !== undefined))
      return 'HMARK pool with rules that are not mark matches';
    const table: (ImportedBackend | undefined)[] = Array.from({ length: mod }, () => undefined);
    for (const c of conds) if (c.mark! - offset >= 0 && c.mark! - offset < mod) table[c.mark! - offset] ??= c.backend;
    const slots = table.map((b) => b ?? last.backend);
    const backends = distinct(slots);
    const counts = count(slots);
    const weights = backends.map((b) => counts.get(b)!);
    const fields = hmarkFields(hmark.targetOpts);
    const contiguous = contiguousSequence(weights).every((i, k) => slots[k] === backends[i]);
    backends.forEach((b, i) => (b.weight = reduceWeights(weights)[i]!));
    if (contiguous && hint !== 'maglev') {
      const symmetric = hint === 'symmetric-hash' && fields.length === 4;
      return {
        scheduler: symmetric ? 'symmetric-hash' : 'source-hash',
        backends,
        ...(symmetric ? {} : { hash: { fields, seed } }),
      };
    }
    const mw = maglevWeights(backends, slots, mod, weights);
    if (mw === undefined)
      return `HMARK table of ${mod} slots is neither contiguous (source-hash) nor a Maglev table nftlb would build`;
    backends.forEach((b, i) => (b.weight = mw[i]!));
    return { scheduler: 'maglev', backends, hash: { fields, seed, tableSize: mod } };
  }
  if (conds.length === 0)
    return {
      scheduler:
        hint === 'random' || hint === 'round-robin' || hint === undefined
          ? (hint ?? 'round-robin')
          : (hint as ImportedPool['scheduler']),
      backends: [last.backend],
    };
  if (last.statistic !== undefined || last.mark !== undefined)
    return 'the last rule of the pool is not unconditional (some connections would match nothing)';
  if (conds.every((c) => c.statistic?.mode === 'nth')) {
    const seq = nthSequence(choices);
    if (typeof seq === 'string') return seq;
    const backends = distinct(seq);
    const counts = count(seq);
    const weights = reduceWeights(backends.map((b) => counts.get(b)!));
    backends.forEach((b, i) => (b.weight = weights[i]!));
    return { scheduler: 'round-robin', backends };
  }
  if (conds.every((c) => c.statistic?.mode === 'random')) {
    let left = 1;
    const share = new Map<ImportedBackend, number>();
    for (const c of choices) {
      const p = c.statistic?.mode === 'random' ? c.statistic.probability : 1;
      share.set(c.backend, (share.get(c.backend) ?? 0) + left * p);
      left *= 1 - p;
    }
    const backends = [...share.keys()];
    const weights = weightsFromShares(backends.map((b) => share.get(b)!));
    if (weights === undefined) return 'the random probabilities do not correspond to integer weights up to 10000';
    backends.forEach((b, i) => (b.weight = weights[i]!));
    return { scheduler: 'random', backends };
  }
  return 'a pool mixes nth, random and mark conditions';
}

// The weights that make nftlb's Maglev builder produce exactly this slot table: the slot counts' ratio first, then a
// bounded search over small weights (a small table does not show the weights in its counts).
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
  const first = reduceWeights(counts);
  if (matches(first)) return first;
  const max = Math.floor(Math.pow(20000, 1 / backends.length));
  const w = backends.map(() => 1);
  for (let n = 0; n < Math.pow(Math.max(max, 1), backends.length); n++) {
    let k = n;
    for (let i = 0; i < w.length; i++) {
      w[i] = (k % max) + 1;
      k = Math.floor(k / max);
    }
    if (reduceWeights(w).every((x, i) => x === w[i]) && matches(w)) return [...w];
  }
  return undefined;
}
