import type { Scheduler } from '../model/types.js';
import { maglevTable } from './maglev.js';
import type { PlannedBackend, Selector } from './types.js';
import { contiguousSequence, smoothWeightedSequence } from './weights.js';

// For the up backends of one pool: the selector expression and the slot table (backend index per slot).
export function selectFor(
  scheduler: Scheduler,
  up: readonly PlannedBackend[],
): { selector: Selector; slots: number[] } {
  const weights = up.map((b) => b.weight);
  // One backend: a constant, never a modulo by one.
  if (up.length === 1) return { selector: { kind: 'constant' }, slots: [0] };
  switch (scheduler.kind) {
    case 'round-robin': {
      const slots = smoothWeightedSequence(weights);
      return { selector: { kind: 'numgen', mode: 'inc', mod: slots.length }, slots };
    }
    case 'random': {
      const slots = contiguousSequence(weights);
      return { selector: { kind: 'numgen', mode: 'random', mod: slots.length }, slots };
    }
    case 'source-hash': {
      const slots = contiguousSequence(weights);
      return { selector: { kind: 'jhash', fields: scheduler.fields, seed: scheduler.seed, mod: slots.length }, slots };
    }
    case 'symmetric-hash': {
      const slots = contiguousSequence(weights);
      return { selector: { kind: 'symhash', mod: slots.length }, slots };
    }
    case 'maglev': {
      const table = maglevTable(
        up.map((b) => ({ key: b.endpoint, weight: b.weight })),
        scheduler.tableSize,
      );
      return {
        selector: { kind: 'jhash', fields: scheduler.fields, seed: scheduler.seed, mod: scheduler.tableSize },
        slots: Array.from(table),
      };
    }
  }
}
