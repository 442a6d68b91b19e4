import { NftlbError } from '../common/errors.js';
import { FINGERPRINT_PREFIX } from '../nft/script.js';
import type { ExecResult, Executor } from './executor.js';
import { explainNftError } from '../nft/explain-error.js';

// The nft program nftlb runs: $NFTLB_NFT when set (an absolute path or a name looked up in PATH), else `nft`.
export function nftProgram(env: NodeJS.ProcessEnv): string {
  const v = env['NFTLB_NFT'];
  return v !== undefined && v !== '' ? v : 'nft';
}

// What nftlb finds of its table in the live ruleset.
export type LiveTable =
  | { readonly kind: 'absent' }
  /** fingerprint is null when the table exists but was not made by nftlb (no fingerprint comment). */
  | { readonly kind: 'present'; readonly fingerprint: string | null; readonly chains: readonly string[] };

const COMMENT = new RegExp(`^\\s*comment "${FINGERPRINT_PREFIX}([0-9a-f]+)"\\s*$`, 'm');
const CHAIN = /^\s*chain (\S+) \{\s*$/gm;

// Reads nftlb's table header from the live ruleset. nft 1.0.6 leaves table comments out of its JSON, so this reads the
// terse text listing (`-t` skips set elements and keeps it cheap at 10k services).
export async function readLiveTable(exec: Executor, nft: string, table: string): Promise<LiveTable> {
  const r = await exec.run(nft, ['-t', 'list', 'table', 'inet', table]);
  if (r.exitCode !== 0) {
    if (/No such file or directory/.test(r.stderr)) return { kind: 'absent' };
    throw nftFailed(`nft cannot list table inet ${table}`, r);
  }
  const m = COMMENT.exec(r.stdout);
  const chains = [...r.stdout.matchAll(CHAIN)].map((c) => c[1] ?? '');
  return { kind: 'present', fingerprint: m?.[1] ?? null, chains };
}

// Reads nftlb's table as nft JSON (rules with their counters, maps with their elements); null when it does not exist.
export async function readLiveJson(exec: Executor, nft: string, table: string): Promise<unknown[] | null> {
  const r = await exec.run(nft, ['-j', 'list', 'table', 'inet', table]);
  if (r.exitCode !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null;
    throw nftFailed(`nft cannot list table inet ${table}`, r);
  }
  try {
    const doc = JSON.parse(r.stdout) as { nftables?: unknown[] };
    return doc.nftables ?? [];
  } catch (cause) {
    throw new NftlbError('nft-failed', `nft -j list table inet ${table} printed something that is not JSON`, { cause });
  }
}

// Checks the script with `nft -c -f -` (the kernel sees it, nothing is committed), then loads it with `nft -f -`.
// Either failure throws nft-failed with nft's message next to the script line it refers to; nothing was changed then,
// because nft commits a file in one transaction or not at all.
export async function checkAndLoad(exec: Executor, nft: string, script: string): Promise<void> {
  const check = await exec.run(nft, ['-c', '-f', '-'], script);
  if (check.exitCode !== 0) throw scriptRefused('nft -c refused the script; nothing was changed', check, script);
  const load = await exec.run(nft, ['-f', '-'], script);
  if (load.exitCode !== 0) throw scriptRefused('nft refused the script; nothing was changed', load, script);
}

function scriptRefused(message: string, r: ExecResult, script: string): NftlbError {
  return new NftlbError('nft-failed', message, { detail: explainNftError(r.stderr, script) });
}

// An nft-failed error carrying nft's own output.
export function nftFailed(message: string, r: ExecResult): NftlbError {
  const out = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.exitCode}`).trimEnd();
  return new NftlbError('nft-failed', message, { detail: out });
}
