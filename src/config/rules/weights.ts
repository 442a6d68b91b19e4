import type { Diagnostic } from '../../common/diagnostic.js';
import type { Backend } from '../../model/types.js';
import { error, type Rule } from './rule.js';
import { gcdAll } from '../../plan/weights.js';

// Limit on the slots a weighted round-robin service emits (one map element per slot).
export const MAX_ROUND_ROBIN_SLOTS = 65536;

// Weighted round robin emits one slot per unit of GCD-reduced weight; refuse weight sets that would explode the map.
export const weights: Rule = ({ model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    if (s.scheduler.kind !== 'round-robin' || s.backends.length === 0) continue;
    // Equal weights reduce to one slot each: the common case needs no GCD.
    if (s.backends.length <= MAX_ROUND_ROBIN_SLOTS && equalWeights(s.backends)) continue;
    const w = s.backends.map((b) => b.weight);
    const g = gcdAll(w);
    const slots = w.reduce((a, b) => a + b / g, 0);
    if (slots <= MAX_ROUND_ROBIN_SLOTS) continue;
    out.push(
      error(
        `${s.path}/backends`,
        'backend.weights',
        `round-robin weights reduce to ${slots} slots (limit ${MAX_ROUND_ROBIN_SLOTS}); use smaller or more divisible weights`,
      ),
    );
  }
  return out;
};

function equalWeights(bs: readonly Backend[]): boolean {
  for (let i = 1; i < bs.length; i++) if (bs[i]!.weight !== bs[0]!.weight) return false;
  return true;
}
