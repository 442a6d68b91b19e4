// Helpers of the ops kernel tests: run the nftlb CLI inside the lb namespace and snapshot its ruleset.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecResult, Topology } from './topology.js';
import { fingerprintOfListing } from '../../../src/nft/script.js';

/** The compiled CLI entry point. */
export const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

const made: string[] = [];
process.on('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

// A scratch directory for one test (removed when the test process exits): configs, lock and state files.
export function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-kops-'));
  made.push(dir);
  return dir;
}

// Writes a config file into dir and returns its path.
export function writeConfig(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

// Runs `nftlb args...` in the lb namespace with the given extra environment (never throws on a non-zero exit).
export function nftlb(
  topo: Topology,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60000,
): Promise<ExecResult> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return topo.exec(topo.lb, ['env', ...vars, process.execPath, MAIN, ...args], { reject: false, timeoutMs });
}

// The whole ruleset of the lb namespace as nft prints it (the byte-identical comparison of the tests).
export async function ruleset(topo: Topology): Promise<string> {
  return (await topo.exec(topo.lb, ['nft', 'list', 'ruleset'])).stdout;
}

// The fingerprint in the live table comment of `table` in the lb namespace, or null.
export async function liveFingerprint(topo: Topology, table = 'nftlb'): Promise<string | null> {
  const r = await topo.exec(topo.lb, ['nft', '-t', 'list', 'table', 'inet', table], { reject: false });
  // The fingerprint chain's comment (a table reloaded in place keeps its first table comment), as nftlb reads it.
  return r.exitCode === 0 ? fingerprintOfListing(r.stdout) : null;
}

// A config of one TCP service on the topology's VIPs (port 80 -> backends :8080) with the given weights, plus a
// source-hash service on port 81 (client-sticky), so reloads can change weights and keep the hashing.
export function webConfig(topo: Topology, weights: readonly number[], extra = ''): string {
  const be = topo.backendV4.slice(0, weights.length);
  return [
    'services:',
    '  - name: web',
    `    vip: [${topo.vip4}, ${topo.vip6}]`,
    '    port: 80',
    '    backends:',
    ...be.flatMap((a, i) => [`      - address: ${a}`, '        port: 8080', `        weight: ${weights[i] ?? 1}`]),
    ...topo.backendV6.slice(0, 2).flatMap((a) => [`      - address: ${a}`, '        port: 8080']),
    '  - name: sticky',
    `    vip: ${topo.vip4}`,
    '    port: 81',
    '    scheduler: source-hash',
    '    hash: { fields: [saddr], seed: 0x5eed }',
    '    backends:',
    ...be.flatMap((a) => [`      - address: ${a}`, '        port: 8080']),
    extra,
  ].join('\n');
}
