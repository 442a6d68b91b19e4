import { NftlbError } from '../common/errors.js';
import type { TableRef } from '../nft/ast.js';
import type { Ident } from '../nft/names.js';
import { listArgs } from '../nft/commands.js';
import { explainNftError } from '../nft/explain-error.js';
import { fingerprintOfListing } from '../nft/script.js';
import type { ExecResult } from './executor.js';
import type { Host } from './host.js';

// The nft program's input and output: scripts in, listings out. What the scripts say is src/nft's business.

/** What nftlb finds of one of its tables in the live ruleset. */
export type LiveTable =
  | { readonly kind: 'absent' }
  /** fingerprint is null when the table exists but was not made by nftlb (no fingerprint comment); listing is the
   *  terse listing it was read from (what a reload that keeps the persistence entries deletes). */
  | { readonly kind: 'present'; readonly fingerprint: string | null; readonly listing: string };

const where = (t: TableRef): string => `table ${t.family} ${t.name}`;
const absent = (r: ExecResult): boolean => /No such file or directory/.test(r.stderr);

// Reads a table's header from the live ruleset. nft 1.0.6 leaves table comments out of its JSON, so this reads the
// terse text listing (`-t` skips set elements).
export async function readLiveTable(host: Host, table: TableRef): Promise<LiveTable> {
  const r = await host.exec.run(host.nft, listArgs({ table, terse: true }));
  if (r.exitCode !== 0) {
    if (absent(r)) return { kind: 'absent' };
    throw nftFailed(`nft cannot list ${where(table)}`, r);
  }
  return { kind: 'present', fingerprint: fingerprintOfListing(r.stdout), listing: r.stdout };
}

// Reads a table as nft JSON (rules with their counters, maps with their elements unless `elements` is false: -t, which
// saves a third of the listing at 10k services), or only one of its sets or maps; null when it does not exist.
export async function readLiveJson(
  host: Host,
  table: TableRef,
  set?: { readonly kind: 'set' | 'map'; readonly name: Ident },
  o: { readonly elements?: boolean } = {},
): Promise<unknown[] | null> {
  const r = await host.exec.run(
    host.nft,
    listArgs({ table, json: true, terse: o.elements === false, ...(set === undefined ? {} : { set }) }),
  );
  if (r.exitCode !== 0) {
    if (absent(r)) return null;
    throw nftFailed(
      `nft cannot list ${set === undefined ? where(table) : `${set.kind} ${set.name} of ${where(table)}`}`,
      r,
    );
  }
  try {
    const doc = JSON.parse(r.stdout) as { nftables?: unknown[] };
    return doc.nftables ?? [];
  } catch (cause) {
    throw new NftlbError('nft-failed', `nft -j list ${where(table)} printed something that is not JSON`, { cause });
  }
}

// Loads a script with `nft -f -`. A refusal throws nft-failed with nft's message next to the script line it refers to;
// nothing was changed then, because nft commits a file in one transaction or not at all. (No `nft -c` first: the
// kernel checks the very same transaction at commit and aborts it whole, so a check would only parse the script twice.)
export async function commitScript(host: Host, script: string): Promise<void> {
  const load = await loadScript(host, script);
  if (load.exitCode !== 0) throw scriptRefused('nft refused the script; nothing was changed', load, script);
}

// commitScript of a script written to nft as it is rendered (src/system/executor.ts, feed): nft parses the first pieces
// while the rest are made. `whileCommitting` runs once the script is all written, while nft commits it.
export async function commitStream(
  host: Host,
  pieces: Iterable<string>,
  whileCommitting: () => void = () => undefined,
): Promise<void> {
  const sent: string[] = [];
  const tee = function* (): Generator<string> {
    for (const p of pieces) {
      sent.push(p);
      yield p;
    }
  };
  let r: ExecResult;
  if (host.exec.feed === undefined) {
    const script = [...tee()].join('');
    whileCommitting();
    r = await host.exec.run(host.nft, ['-f', '-'], script);
  } else r = await host.exec.feed(host.nft, (input) => ['-f', input], tee(), whileCommitting);
  if (r.exitCode !== 0) throw scriptRefused('nft refused the script; nothing was changed', r, sent.join(''));
}

// `nft -c -f -`: what the kernel says of a script, committing nothing.
export function checkScript(host: Host, script: string): Promise<ExecResult> {
  return host.exec.run(host.nft, ['-c', '-f', '-'], script);
}

// `nft -f -`: loads a script in one transaction; the caller reads the outcome (health tells a refused guard from other
// failures by nft's echo of the line).
export function loadScript(host: Host, script: string): Promise<ExecResult> {
  return host.exec.run(host.nft, ['-f', '-'], script);
}

// `nft --version`.
export function nftVersion(host: Host): Promise<ExecResult> {
  return host.exec.run(host.nft, ['--version']);
}

function scriptRefused(message: string, r: ExecResult, script: string): NftlbError {
  return new NftlbError('nft-failed', message, { detail: explainNftError(r.stderr, script) });
}

// A table of nftlb's name that nftlb did not make (no fingerprint comment): someone else's, or a hand-made one. nftlb
// replaces or deletes only its own tables unless told to (apply --force, health --force).
export function foreignTable(t: TableRef): NftlbError {
  return new NftlbError(
    'foreign-table',
    `${where(t)} exists but was not made by nftlb (no fingerprint comment); nothing was changed`,
    {
      detail:
        "If it is an old copy of nftlb's table, replace it with `nftlb apply --force`; otherwise choose another table name in the config.",
    },
  );
}

// An nft-failed error carrying nft's own output.
export function nftFailed(message: string, r: ExecResult): NftlbError {
  const out = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.exitCode}`).trimEnd();
  return new NftlbError('nft-failed', message, { detail: out });
}
