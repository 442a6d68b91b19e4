// Probabilities for `statistic --mode random` chains.

/** One backend of a random pool: its share of the slot table and the probability its rule matches. */
export interface Share {
  readonly id: number;
  readonly count: number;
  /** count / (count + every later count): the chance this rule takes a connection the earlier rules left. */
  readonly probability: number;
}

// Groups a slot table by backend (first appearance order) and gives each group its conditional probability
// w_i / (w_i + ... + w_n), so that rule i, seen only by what rules 0..i-1 left, takes exactly share w_i / sum(w).
export function conditionalShares(slots: readonly number[]): Share[] {
  const counts = new Map<number, number>();
  for (const id of slots) counts.set(id, (counts.get(id) ?? 0) + 1);
  let left = slots.length;
  return [...counts].map(([id, count]) => {
    const probability = count / left;
    left -= count;
    return { id, count, probability };
  });
}

// Writes a probability with at least 12 significant digits and no exponent. The kernel keeps p as
// round(p * 2^31) / 2^31, so more digits than that cannot change what is loaded.
export function formatProbability(p: number): string {
  if (!(p > 0 && p < 1)) throw new Error(`probability out of range: ${p}`);
  const decimals = Math.min(20, Math.max(12, 12 - Math.floor(Math.log10(p)) - 1));
  return p.toFixed(decimals);
}

// The product of the probabilities a rule chain actually applies: the share of connections each rule takes.
export function sharesFromConditional(probabilities: readonly number[]): number[] {
  let left = 1;
  const out: number[] = [];
  for (const p of probabilities) {
    out.push(left * p);
    left *= 1 - p;
  }
  out.push(left);
  return out;
}
