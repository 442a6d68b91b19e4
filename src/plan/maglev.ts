import { createHash } from 'node:crypto';
import { reduceWeights } from './weights.js';

// One Maglev candidate: a stable key (the backend endpoint) and its weight.
export interface MaglevBackend {
  readonly key: string;
  readonly weight: number;
}

// Builds the Maglev lookup table (Eisenbud et al., NSDI 2016, section 3.4): entry j holds the index of the backend that
// owns hash slot j. Each backend walks its own permutation of the slots (offset + k * skip mod M) and claims the next
// free one in turn; weighted backends take `weight` turns per round. The permutation depends only on the backend's key,
// so removing one of N backends moves about 1/N of the slots. `size` must be a prime >= the number of backends.
export function maglevTable(backends: readonly MaglevBackend[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  if (backends.length === 0) return table;
  // The table must not depend on the order the backends were written in.
  const order = backends.map((b, i) => ({ ...b, i })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const weights = reduceWeights(order.map((b) => b.weight));
  const perm = order.map((b) => permutation(b.key, size));
  const next = order.map(() => 0);
  let filled = 0;
  for (;;) {
    for (let n = 0; n < order.length; n++) {
      const p = perm[n]!;
      for (let turn = 0; turn < weights[n]!; turn++) {
        let c = (p.offset + next[n]! * p.skip) % size;
        while (table[c]! >= 0) {
          next[n]!++;
          c = (p.offset + next[n]! * p.skip) % size;
        }
        table[c] = order[n]!.i;
        next[n]!++;
        if (++filled === size) return table;
      }
    }
  }
}

function permutation(key: string, size: number): { offset: number; skip: number } {
  const h = createHash('sha256').update(`nftlb-maglev:${key}`).digest();
  return { offset: h.readUInt32BE(0) % size, skip: (h.readUInt32BE(4) % (size - 1)) + 1 };
}
