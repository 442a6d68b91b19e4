import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parseConfigText } from '../../src/config/parse.js';
import { checkConfig } from '../../src/config/read.js';
import { buildTable } from '../../src/nft/build.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';

// One render measurement, printed by the child as a single JSON line and read back by main.ts.
export interface RenderResult {
  readonly services: number;
  readonly format: 'yaml' | 'json';
  readonly configBytes: number;
  /** Wall time of each stage, ms: checkConfig (parse + schema + normalize + rules), plan, renderNftScript. */
  readonly validateMs: number;
  readonly planMs: number;
  readonly renderMs: number;
  readonly totalMs: number;
  /** CPU time (user + system) of the pipeline, ms: steadier than wall time on a busy machine. */
  readonly cpuMs: number;
  /** Of validateMs, the time of parsing the text alone (measured again after the pipeline). */
  readonly parseMs: number;
  /** Peak resident set size of the process, MB: generation of the config text, then the pipeline. */
  readonly maxRssMb: number;
  /** Resident set size before the pipeline ran (node + config text), MB. */
  readonly baseRssMb: number;
  /** V8 heap in use right after render, with config text, model, plan and script all alive, MB. */
  readonly heapUsedMb: number;
  readonly scriptBytes: number;
  readonly scriptLines: number;
  /** Element count of each set/map of the table, by name. */
  readonly elements: Readonly<Record<string, number>>;
  readonly chains: number;
  readonly diagnostics: number;
}

const MB = 1024 * 1024;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

// Runs the real pipeline once on a config file of n services (written by main.ts) and measures it. The text is read
// as `nftlb render` reads it, so the base RSS is node and the text, not the generator's garbage.
export function measureRender(file: string, n: number): RenderResult {
  const format = file.endsWith('.json') ? 'json' : 'yaml';
  let text: string | undefined = readFileSync(file, 'utf8');
  const configBytes = Buffer.byteLength(text);
  gc();
  const baseRssMb = process.memoryUsage().rss / MB;

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const checked = checkConfig(file, text);
  const t1 = performance.now();
  if (checked.model === undefined) {
    const first = checked.diagnostics.slice(0, 3).map((d) => `${d.path}: ${d.code} ${d.message}`);
    throw new Error(`generated config is invalid: ${first.join('; ')}`);
  }
  const p = plan(checked.model);
  const t2 = performance.now();
  const script = renderNftScript(p);
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  // maxRSS is in kilobytes on Linux.
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  const heapUsedMb = getHeapStatistics().used_heap_size / MB;

  // Facts about the output, and the parse share of validate: measured after the peak was recorded.
  const table = buildTable(p, '');
  const elements = Object.fromEntries(table.sets.map((s) => [s.name, s.elements.length]));
  const scriptBytes = Buffer.byteLength(script.text);
  const scriptLines = script.text.split('\n').length - 1;
  const diagnostics = checked.diagnostics.length;
  const chains = table.chains.length;
  gc();
  const t4 = performance.now();
  parseConfigText(file, text);
  const parseMs = performance.now() - t4;
  text = undefined;

  return {
    services: n,
    format,
    configBytes,
    validateMs: t1 - t0,
    planMs: t2 - t1,
    renderMs: t3 - t2,
    totalMs: t3 - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    parseMs,
    maxRssMb,
    baseRssMb,
    heapUsedMb,
    scriptBytes,
    scriptLines,
    elements,
    chains,
    diagnostics,
  };
}

// Entry point of the child: `node --expose-gc render-child.js <config file> <services>`; prints one JSON line.
function main(argv: readonly string[]): void {
  const file = argv[0] ?? '';
  const n = Number(argv[1]);
  if (file === '' || !Number.isInteger(n) || n < 1) {
    process.stderr.write('usage: render-child.js <config file> <services>\n');
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`${JSON.stringify(measureRender(file, n))}\n`);
}

main(process.argv.slice(2));
