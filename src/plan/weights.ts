// Weight arithmetic shared by the schedulers.

// Greatest common divisor of positive integers.
export function gcdAll(values: readonly number[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return values.reduce((g, v) => gcd(g, v), 0) || 1;
}

// Weights divided by their GCD: 4:2:2 -> 2:1:1, so tables stay as short as the ratios allow.
export function reduceWeights(weights: readonly number[]): number[] {
  if (allEqual(weights)) return weights.map(() => 1);
  const g = gcdAll(weights);
  return weights.map((w) => w / g);
}

// Smooth weighted round robin (the nginx algorithm): a sequence of indexes, one per unit of reduced weight, in which
// each index appears as evenly spread as the weights allow (5:1:1 -> 0 0 1 0 2 0 0, never five in a row).
export function smoothWeightedSequence(weights: readonly number[]): number[] {
  // Equal weights rotate in order (what the loop below yields too), the common case: no arithmetic.
  if (allEqual(weights)) return weights.map((_, i) => i);
  const w = reduceWeights(weights);
  const total = w.reduce((a, b) => a + b, 0);
  const current = w.map(() => 0);
  const seq: number[] = [];
  for (let step = 0; step < total; step++) {
    let best = 0;
    for (let i = 0; i < w.length; i++) {
      current[i] = (current[i] ?? 0) + (w[i] ?? 0);
      if ((current[i] ?? 0) > (current[best] ?? 0)) best = i;
    }
    current[best] = (current[best] ?? 0) - total;
    seq.push(best);
  }
  return seq;
}

const allEqual = (ws: readonly number[]): boolean => ws.every((w) => w === ws[0]);

// Contiguous weight ranges: index i owns reduced-weight units [start, start + w_i); used by random and hash.
export function contiguousSequence(weights: readonly number[]): number[] {
  return reduceWeights(weights).flatMap((w, i) => Array<number>(w).fill(i));
}
