import { FRESH, step, type HealthRecord, type Transition } from './machine.js';
import type { ProbeResult } from './probe-types.js';
import type { HealthState } from './state-file.js';
import type { CheckTarget } from './targets.js';

/** A transition of one backend, with where it happened. */
export interface BackendTransition extends Transition {
  readonly key: string;
  readonly service: string;
  readonly endpoint: string;
}

// Folds one round of results into the state's records (pure). Records of backends no longer checked are dropped, so
// the state file follows the config.
export function recordResults(
  state: HealthState,
  targets: readonly CheckTarget[],
  results: readonly ProbeResult[],
  now: Date,
): { state: HealthState; transitions: BackendTransition[] } {
  const backends: Record<string, HealthRecord> = {};
  const transitions: BackendTransition[] = [];
  targets.forEach((t, i) => {
    const r = results[i];
    const prev = state.backends[t.key] ?? FRESH;
    if (r === undefined || r.inconclusive === true) {
      backends[t.key] = prev;
      return;
    }
    const { record, transition } = step(prev, r.ok, r.reason, t.check, now);
    backends[t.key] = record;
    if (transition) transitions.push({ ...transition, key: t.key, service: t.service, endpoint: t.backend.endpoint });
  });
  return { state: { ...state, backends }, transitions };
}
