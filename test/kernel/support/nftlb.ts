import { formatDiagnostic } from '../../../src/common/diagnostic.js';
import { checkConfig } from '../../../src/config/read.js';
import { renderNftScript } from '../../../src/nft/script.js';
import { plan } from '../../../src/plan/plan.js';
import { tallyObject, type ProbeResult } from './client.js';
import type { Topology } from './topology.js';

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

/** What sharesWithin3Sigma saw: every sample drawn, and why the last one failed (empty when it passed). */
export interface ShareCheck {
  readonly ok: boolean;
  readonly samples: readonly Readonly<Record<string, number>>[];
  readonly why: string;
}

// Draws a sample of n connections (counts by backend) and checks every expected share p within 3 standard deviations
// of binomial(n, p). A sample with a share outside is drawn once more, and the second sample decides. Why: a fair
// balancer misses a single 3-sigma check about 0.3% of the time, and the suite makes a dozen such checks (a CI run
// would fail about 3% of the time); a fresh second sample fails as well with probability ~1e-5, while a biased
// balancer fails both.
export async function sharesWithin3Sigma(
  draw: () => Promise<Readonly<Record<string, number>>>,
  n: number,
  expected: Readonly<Record<string, number>>,
): Promise<ShareCheck> {
  const samples: Readonly<Record<string, number>>[] = [];
  let why = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    const c = await draw();
    samples.push(c);
    const off = Object.entries(expected).filter(([be, p]) => !within3Sigma(c[be] ?? 0, n, p));
    why = off.map(([be, p]) => `${be}: ${c[be] ?? 0} of ${n}, expected ${n * p}`).join('; ');
    if (off.length === 0) return { ok: true, samples, why: '' };
  }
  return { ok: false, samples, why: `two samples outside 3 sigma, the second: ${why}` };
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
