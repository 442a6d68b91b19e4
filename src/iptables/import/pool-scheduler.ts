import { endpointText } from '../../model/address.js';
import type { Family } from '../../model/types.js';
import { reduceWeights } from '../../plan/weights.js';
import { MAX_WEIGHT } from '../comment.js';
import { hashPool } from './hash-pool.js';
import type { Choice, ImportedBackend, ImportedPool } from './imported.js';
import type { ParsedRule } from './parsed-rule.js';

// Recovers the scheduler and the backend weights of a pool from the rules that choose among its backends.

/** Longest nth period the importer reads. */
const MAX_PERIOD = 100000;

/** The most slots a round-robin config may reduce to (the config's own limit, config/rules/weights.ts). */
const MAX_ROUND_ROBIN_SLOTS = 65536;

/** Work allowed for simulating an nth chain that is not in the usual form: connections x rules walked. */
const NTH_SIMULATION_BUDGET = 20_000_000;

// The backend sequence an nth chain produces over one period (each rule counts only the connections that reach it and
// takes the first of every `every`, as the kernel does; verified by the kernel tests against the render).
export function nthSequence(choices: readonly Choice[]): ImportedBackend[] | string {
  const period = choices[0]?.statistic?.mode === 'nth' ? choices[0].statistic.every : 1;
  if (period > MAX_PERIOD) return `nth period ${period} is too long`;
  // The usual form (nftlb's render, the common recipe): rule i of N takes one in every N-i of what reaches it, from the
  // first on, so each window of N connections visits the rules once, in order.
  const n = choices.length;
  if (
    period === n &&
    choices.every(
      (c, i) => i === n - 1 || (c.statistic?.mode === 'nth' && c.statistic.every === n - i && c.statistic.packet === 0),
    )
  )
    return choices.map((c) => c.backend);
  if (2 * period * n > NTH_SIMULATION_BUDGET)
    return `nth rules in an unusual form: ${n} rules over a period of ${period} are too many to follow`;
  const counters = choices.map(() => 0);
  const seq: ImportedBackend[] = [];
  for (let k = 0; k < 2 * period; k++) {
    const i = choices.findIndex((c, r) => {
      if (c.statistic?.mode !== 'nth') return true;
      const hit = counters[r]! % c.statistic.every === c.statistic.packet;
      counters[r]!++;
      return hit;
    });
    if (i < 0) return 'some connections match no rule (no unconditional last rule)';
    seq.push(choices[i]!.backend);
  }
  for (let k = 0; k < period; k++)
    if (seq[k] !== seq[k + period]) return 'the nth rules do not repeat with the period of the first rule';
  return seq.slice(0, period);
}

// Smallest integer weights (at most MAX_WEIGHT each) whose shares match the given ones within what 31-bit
// probabilities and 11 printed decimals can carry. The search is bounded by the work it does, not only by the total.
export function weightsFromShares(shares: readonly number[]): number[] | undefined {
  const maxTotal = Math.min(100000, Math.floor(50_000_000 / Math.max(1, shares.length)));
  const w: number[] = new Array<number>(shares.length);
  for (let total = shares.length; total <= maxTotal; total++) {
    const tol = Math.max(1e-6, total * shares.length * 1e-9);
    let ok = true;
    for (let i = 0; i < shares.length && ok; i++) {
      const x = Math.round(shares[i]! * total);
      w[i] = x;
      ok = x >= 1 && x <= MAX_WEIGHT && Math.abs(x - shares[i]! * total) <= tol;
    }
    if (ok) return reduceWeights(w);
  }
  return undefined;
}

const count = (seq: readonly ImportedBackend[]): Map<ImportedBackend, number> => {
  const m = new Map<ImportedBackend, number>();
  for (const b of seq) m.set(b, (m.get(b) ?? 0) + 1);
  return m;
};

// Recovers the scheduler of a pool of the given family from its choices (and HMARK rule); a string says why it could
// not.
export function poolFromChoices(
  original: readonly Choice[],
  hmark: ParsedRule | undefined,
  hint: string | undefined,
  family: Family,
): ImportedPool | string {
  const alien = original.find((c) => c.backend.address.family !== family);
  if (alien !== undefined)
    return `DNAT to IPv${alien.backend.address.family} address ${alien.backend.address.text} from an IPv${family} listener`;
  // Recipes share backend chains between services; each pool gets its own backend records (weights differ). Two rules
  // to one destination are one backend that takes both shares.
  const copies = new Map<string, ImportedBackend>();
  const own = (b: ImportedBackend): ImportedBackend => {
    const key = endpointText(b.address, b.port);
    let copy = copies.get(key);
    if (copy === undefined) copies.set(key, (copy = { ...b }));
    return copy;
  };
  const choices = original.map((c) => ({ ...c, backend: own(c.backend) }));
  const pool = schedulerOf(choices, hmark, hint);
  if (typeof pool === 'string') return pool;
  const heavy = pool.backends.find((b) => b.weight > MAX_WEIGHT);
  if (heavy !== undefined)
    return `backend ${endpointText(heavy.address, heavy.port)} would need weight ${heavy.weight} (a config allows up to ${MAX_WEIGHT})`;
  return pool;
}

function schedulerOf(
  choices: readonly Choice[],
  hmark: ParsedRule | undefined,
  hint: string | undefined,
): ImportedPool | string {
  const last = choices[choices.length - 1];
  if (last === undefined) return 'no backend choice';
  const conds = choices.slice(0, -1);
  if (hmark !== undefined) return hashPool(hmark, conds, last, hint);
  if (last.statistic !== undefined || last.mark !== undefined)
    return 'the last rule of the pool is not unconditional (some connections would match nothing)';
  if (conds.length === 0)
    return {
      scheduler:
        hint === 'random' || hint === 'round-robin' || hint === undefined
          ? (hint ?? 'round-robin')
          : (hint as ImportedPool['scheduler']),
      backends: [last.backend],
    };
  if (conds.every((c) => c.statistic?.mode === 'nth')) {
    const seq = nthSequence(choices);
    if (typeof seq === 'string') return seq;
    const counts = count(seq);
    const backends = [...counts.keys()];
    const weights = reduceWeights(backends.map((b) => counts.get(b)!));
    const slots = weights.reduce((a, b) => a + b, 0);
    if (slots > MAX_ROUND_ROBIN_SLOTS)
      return `round robin over ${slots} slots (a config allows up to ${MAX_ROUND_ROBIN_SLOTS})`;
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
    if (weights === undefined)
      return `the random probabilities do not correspond to integer weights up to ${MAX_WEIGHT}`;
    backends.forEach((b, i) => (b.weight = weights[i]!));
    return { scheduler: 'random', backends };
  }
  return 'a pool mixes nth, random and mark conditions';
}
