import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { countRules, flatSave, recipeSave, renderSave } from './save-generator.js';

// `node dist/test/iptables/import-bench.js [--rules 1000,10000,100000] [--timeout 300]`: times
// `nftlb import iptables FILE` (the bundled command, as a user runs it) on generated iptables-save text of each size,
// for a hand-written recipe, nftlb's own render and a flat chain of port forwards. A benchmark, not a test: it prints figures and asserts nothing.

// Runs the bundle on one file, stdout and stderr drained; wall time from spawn to exit.
function timeImport(file: string, timeoutMs: number): Promise<string> {
  const nftlb = fileURLToPath(new URL('../../nftlb.mjs', import.meta.url));
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [nftlb, 'import', 'iptables', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stdout.resume();
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const s = ((performance.now() - t0) / 1000).toFixed(2);
      if (signal === 'SIGKILL') resolve(`timed out after ${timeoutMs / 1000} s`);
      else if (code === 0 || code === 11) resolve(`${s} s (exit ${code})`);
      else resolve(`exit ${String(code)} after ${s} s: ${err.trim().split('\n').slice(-2).join(' | ')}`);
    });
  });
}

async function main(argv: readonly string[]): Promise<void> {
  let sizes = [1000, 10_000, 100_000];
  let timeoutS = 300;
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--rules' && v !== undefined) sizes = v.split(',').map(Number);
    else if (argv[i] === '--timeout' && v !== undefined) timeoutS = Number(v);
    else throw new Error(`usage: import-bench.js [--rules N,N,...] [--timeout SECONDS]`);
    i++;
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 1_000_000) || !(timeoutS > 0))
    throw new Error('--rules takes integers 1..1000000, --timeout a positive number of seconds');
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-import-bench-'));
  try {
    for (const n of sizes) {
      for (const [shape, text] of [
        ['recipe', recipeSave(n)],
        ['nftlb render', renderSave(n)],
        ['flat', flatSave(n)],
      ] as const) {
        const file = join(dir, `${shape.replace(' ', '-')}-${n}.save`);
        writeFileSync(file, text);
        const result = await timeImport(file, timeoutS * 1000);
        process.stdout.write(`${shape.padEnd(13)} ${String(countRules(text)).padStart(8)} rules  ${result}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`import-bench: ${(e as Error).message}\n`);
  process.exit(2);
});
