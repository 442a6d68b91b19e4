import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { minMedian } from './kernel-load.js';

// Node reads the file NODE_EXTRA_CA_CERTS names at every start, TLS or not: ~30 ms on the bench's VM, where the shell
// sets it. nftlb never needs it for apply or render (an https health check takes its CA from the config), and the
// environment a systemd unit or cron gives nftlb does not carry it. The bench measures node's bare start-up both ways,
// side by side, and then runs every nftlb command without that variable, saying so in its output.

/** The variable, when the caller's environment sets it. */
export const EXTRA_CA_VAR = 'NODE_EXTRA_CA_CERTS';

export interface NodeStartup {
  /** Median wall ms of `node -e 0` with the caller's environment, and without EXTRA_CA_VAR. */
  readonly caller: number;
  readonly clean: number;
  /** The value the caller's environment had (undefined: not set, both figures are the same environment). */
  readonly extraCa: string | undefined;
}

// `node -e 0`, alternated between the two environments, `runs` times each (bounded: a 10 s timeout per start).
export function measureNodeStartup(runs: number): NodeStartup {
  const extraCa = process.env[EXTRA_CA_VAR];
  const clean = { ...process.env };
  delete clean[EXTRA_CA_VAR];
  const time = (env: NodeJS.ProcessEnv): number => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore', timeout: 10_000 });
    return r.status === 0 ? performance.now() - t0 : NaN;
  };
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    const x = time(process.env);
    const y = time(clean);
    if (Number.isFinite(x)) a.push(x);
    if (Number.isFinite(y)) b.push(y);
  }
  return { caller: minMedian(a)?.median ?? NaN, clean: minMedian(b)?.median ?? NaN, extraCa };
}

// One sentence for the output and the report.
export function startupLine(s: NodeStartup): string {
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  if (s.extraCa === undefined) return `node start-up (\`node -e 0\`, median): ${ms(s.clean)}.`;
  return (
    `node start-up (\`node -e 0\`, median): ${ms(s.clean)}, and ${ms(s.caller)} with the calling shell's ` +
    `${EXTRA_CA_VAR}=${s.extraCa}, a file node reads at every start; every nftlb command below runs without that ` +
    'variable, as a systemd unit or cron starts nftlb.'
  );
}
