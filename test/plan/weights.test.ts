import test from 'ava';
import fc from 'fast-check';
import { contiguousSequence, reduceWeights, smoothWeightedSequence } from '../../src/plan/weights.js';

test('smooth weighted round robin: 5:1:1 interleaves', (t) => {
  t.deepEqual(smoothWeightedSequence([5, 1, 1]), [0, 0, 1, 0, 2, 0, 0]);
});

test('equal weights rotate in order', (t) => {
  t.deepEqual(smoothWeightedSequence([1, 1, 1]), [0, 1, 2]);
  t.deepEqual(smoothWeightedSequence([7, 7]), [0, 1]);
});

test('weights are GCD-reduced', (t) => {
  t.deepEqual(reduceWeights([40, 20, 20]), [2, 1, 1]);
  t.deepEqual(contiguousSequence([4, 2]), [0, 0, 1]);
});

test('property: each backend gets exactly its reduced weight of slots, and no run is longer than needed', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }), (weights) => {
      const seq = smoothWeightedSequence(weights);
      const reduced = reduceWeights(weights);
      const total = reduced.reduce((a, b) => a + b, 0);
      if (seq.length !== total) return false;
      for (const [i, w] of reduced.entries()) if (seq.filter((x) => x === i).length !== w) return false;
      // The heaviest backend never gets more consecutive slots than its share of the gap between the others allows.
      const max = Math.max(...reduced);
      const rest = total - max;
      const bound = rest === 0 ? total : Math.ceil(max / rest);
      let run = 1;
      for (let k = 1; k < seq.length; k++) {
        run = seq[k] === seq[k - 1] ? run + 1 : 1;
        if (run > bound + 1) return false;
      }
      return true;
    }),
  );
  t.pass();
});
