import { formatDiagnostic } from '../../../src/common/diagnostic.js';
import { checkConfig } from '../../../src/config/validate.js';
import { renderNftScript } from '../../../src/nft/script.js';
import { plan } from '../../../src/plan/plan.js';
import { tallyObject, type ProbeResult } from '../support/client.js';
import type { Topology } from '../support/topology.js';

// Renders a YAML config through the real pipeline (check -> plan -> render); throws with the diagnostics if invalid.
export function renderYaml(yaml: string): string {
  const checked = checkConfig('test.yaml', yaml);
  if (checked.model === undefined) {
    throw new Error(
      `test config invalid:\n${checked.diagnostics.map((d) => formatDiagnostic('test.yaml', d)).join('\n')}`,
    );
  }
  return renderNftScript(plan(checked.model)).text;
}

// Renders and loads a config into the lb namespace with `nft -f -`, exactly as `nftlb render | nft -f -` would.
export async function loadYaml(topo: Topology, yaml: string): Promise<string> {
  const script = renderYaml(yaml);
  await topo.nft(script);
  return script;
}

// tallyObject(), with each failure keyed by its error ('error:ECONNREFUSED'), so a failed deepEqual says what went wrong.
export function counts(results: readonly ProbeResult[]): Record<string, number> {
  return tallyObject(results.map((r) => (r.backend === null ? { ...r, backend: `error:${r.error ?? '?'}` } : r)));
}

// True when `observed` is within 3 standard deviations of a binomial(n, p) mean.
export function within3Sigma(observed: number, n: number, p: number): boolean {
  const sigma = Math.sqrt(n * p * (1 - p));
  return Math.abs(observed - n * p) <= 3 * sigma;
}

// The longest run of the same backend in a sequence of results.
export function longestRun(results: readonly ProbeResult[]): number {
  let best = 0;
  let run = 0;
  let prev: string | null = null;
  for (const r of results) {
    run = r.backend === prev ? run + 1 : 1;
    prev = r.backend;
    best = Math.max(best, run);
  }
  return best;
}
