import type { Scheduler } from '../model/types.js';
import { maglevTable } from './maglev.js';
import type { PlannedBackend, Selector } from './types.js';
import { contiguousSequence, smoothWeightedSequence } from './weights.js';

// Selectors that depend only on their kind and modulus, shared by every pool that has them: a plan is read-only, and at
// 50k services one object per pool is megabytes that live as long as the plan.
const CONSTANT: Selector = { kind: 'constant' };
type SharedKind = 'inc' | 'random' | 'symhash';
const SHARED: Record<SharedKind, (Selector | undefined)[]> = { inc: [], random: [], symhash: [] };
const newSelector = (kind: SharedKind, mod: number): Selector =>
  kind === 'symhash' ? { kind: 'symhash', mod } : { kind: 'numgen', mode: kind, mod };
function sharedSelector(kind: SharedKind, mod: number): Selector {
  // By modulus (a slot count): pools of a few backends, the common case, share; a large modulus gets its own.
  if (mod > 4096) return newSelector(kind, mod);
  const byMod = SHARED[kind];
  while (byMod.length <= mod) byMod.push(undefined);
  return (byMod[mod] ??= newSelector(kind, mod));
}

// For the up backends of one pool: the selector expression and the slot table (backend id per slot).
// `base` (Maglev only): the backends whose table stays put while some of them are out of selection (stickyMaglev).
export function selectFor(
  scheduler: Scheduler,
  up: readonly PlannedBackend[],
  base?: readonly PlannedBackend[],
): { selector: Selector; slots: number[] } {
  // One backend: a constant, never a modulo by one.
  if (up.length === 1) return { selector: CONSTANT, slots: [up[0]!.id] };
  if (scheduler.kind === 'maglev') {
    const slots =
      base === undefined || base.length === 0
        ? maglevSlots(up, scheduler.tableSize)
        : stickyMaglev(base, up, scheduler.tableSize);
    return {
      selector: { kind: 'jhash', fields: scheduler.fields, seed: scheduler.seed, mod: scheduler.tableSize },
      slots,
    };
  }
  // Equal weights (the common case) give one slot per backend in order with every scheduler below: smooth weighted
  // round robin rotates them, the contiguous ranges are one unit each.
  const slots = equalWeights(up) ? up.map((b) => b.id) : sequence(scheduler.kind, up).map((i) => up[i]!.id);
  const mod = slots.length;
  switch (scheduler.kind) {
    case 'round-robin':
      return { selector: sharedSelector('inc', mod), slots };
    case 'random':
      return { selector: sharedSelector('random', mod), slots };
    case 'source-hash':
      return { selector: { kind: 'jhash', fields: scheduler.fields, seed: scheduler.seed, mod }, slots };
    case 'symmetric-hash':
      return { selector: sharedSelector('symhash', mod), slots };
  }
}

// The Maglev table of `up` as backend ids.
function maglevSlots(up: readonly PlannedBackend[], size: number): number[] {
  const table = maglevTable(
    up.map((b) => ({ key: b.endpoint, weight: b.weight })),
    size,
  );
  const slots = new Array<number>(table.length);
  for (let i = 0; i < table.length; i++) slots[i] = up[table[i]!]!.id;
  return slots;
}

// Maglev over `base`, where each slot of a backend that is not in `up` takes its owner from the Maglev table of `up`.
// A slot whose backend is up never changes, so taking a backend out moves exactly its own clients (plain Maglev also
// moves a few of the others', which conntrack hides for NAT but which DSR, without state, would break); its slots are
// spread over the others as Maglev spreads them.
export function stickyMaglev(base: readonly PlannedBackend[], up: readonly PlannedBackend[], size: number): number[] {
  const inUp = new Set(up.map((b) => b.id));
  if (base.length === up.length && base.every((b) => inUp.has(b.id))) return maglevSlots(up, size);
  const full = maglevSlots(base, size);
  const reduced = maglevSlots(up, size);
  for (let i = 0; i < size; i++) if (!inUp.has(full[i]!)) full[i] = reduced[i]!;
  return full;
}

// Backend index per slot for the weighted schedulers.
function sequence(kind: Scheduler['kind'], up: readonly PlannedBackend[]): number[] {
  const weights = up.map((b) => b.weight);
  return kind === 'round-robin' ? smoothWeightedSequence(weights) : contiguousSequence(weights);
}

// True when every backend has the same weight (or there are none).
export function equalWeights(up: readonly PlannedBackend[]): boolean {
  const w = up[0]?.weight;
  for (let i = 1; i < up.length; i++) if (up[i]!.weight !== w) return false;
  return true;
}
