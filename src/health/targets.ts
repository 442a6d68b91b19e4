import type { HealthCheck, Model } from '../model/types.js';
import { backendKey } from '../plan/plan.js';
import type { Plan, PlannedBackend } from '../plan/types.js';

/** One backend to check: its stable key, service, the planned backend (id, address, port) and its check. */
export interface CheckTarget {
  readonly key: string;
  readonly service: string;
  readonly backend: PlannedBackend;
  readonly check: HealthCheck;
}

// Every backend with a health check, except those the config sets down (they take no traffic whatever a probe says).
export function checkTargets(model: Model, p: Plan): CheckTarget[] {
  return model.services.flatMap((s, i) =>
    s.backends.flatMap((b, j): CheckTarget[] => {
      const pb = p.services[i]!.backends[j]!;
      if (b.health === undefined || b.state === 'down') return [];
      return [{ key: backendKey(s.name, pb.endpoint), service: s.name, backend: pb, check: b.health }];
    }),
  );
}

// Runs fn over items with at most `limit` in flight, keeping the input order in the result.
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
