// Identifiers that go into an nft script. Only values made by ident() are ever printed as names.

import { NFT_TABLE_KEYWORDS } from './keywords.js';

declare const identBrand: unique symbol;
/** A name nft accepts as a table, chain, set or map name. */
export type Ident = string & { readonly [identBrand]: true };

// Words nft 1.0.6 parses as keywords where a name is expected (quoting does not help: nft takes no quoted table or
// chain name). Generated from nft itself by scripts/nft-keywords.mjs (src/nft/keywords.ts says how).
export const NFT_KEYWORDS: ReadonlySet<string> = new Set(NFT_TABLE_KEYWORDS);

/** Longest name: nft takes 255 characters; nftlb also puts the table name into file names
 *  (`<table>.applied.json`, `health-<table>.json`), which may have 255. */
export const MAX_NAME_LENGTH = 242;

// nft's own `string` token (first a letter, '_' or '.'; then letters, digits, '_', '.', '-' and '/'), without '/':
// a table name also names files. '.' alone is not a string to nft.
const IDENT = new RegExp(`^[A-Za-z_.][A-Za-z0-9_.-]{0,${MAX_NAME_LENGTH - 1}}$`);

// Why a name is not one nft takes as a table, chain or set name, or undefined when it is.
export function identProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  if (!IDENT.test(name) || name === '.') {
    if (name === '.') return 'nft does not take "." as a name';
    if (IDENT.test(name.charAt(0) + name.slice(1).replace(/\//g, '_')))
      return 'nft would take the "/", but nftlb also names files after the table, where it separates directories';
    return 'nft takes only letters, digits, "_", "." and "-", and a letter, "_" or "." first';
  }
  if (NFT_KEYWORDS.has(name)) return 'it is an nft keyword (nft 1.0.6 refuses it even quoted)';
  return undefined;
}

// Makes an nft identifier, refusing anything nft would misparse; callers build names from validated parts.
export function ident(name: string): Ident {
  // The common case first: one regular expression and one lookup (chain names, 100k at 50k services).
  if (IDENT.test(name) && name !== '.' && !NFT_KEYWORDS.has(name)) return name as Ident;
  if (identProblem(name) !== undefined) throw new Error(`not a safe nft identifier: ${JSON.stringify(name)}`);
  return name as Ident;
}

// Quotes text for an nft comment or string: printable ASCII only, no quotes or backslashes, at most 128 bytes.
export function quote(text: string): string {
  const clean = text
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, "'")
    .slice(0, 128);
  return `"${clean}"`;
}

const SERVICE_CHAIN = /^svc_(.+)_v([46])$/;

// The chain of one family's pool of a service: `svc_<name>_v4` / `svc_<name>_v6`. Service names are identifiers
// (letters, digits, - and _), so the name is always one nft accepts.
export function serviceChain(service: string, family: 4 | 6): Ident {
  return ident(`svc_${service}_v${family}`);
}

// The service and family a chain name belongs to, or null for any other chain (the reverse of serviceChain).
export function parseServiceChain(name: string): { service: string; family: 4 | 6 } | null {
  const m = SERVICE_CHAIN.exec(name);
  return m === null ? null : { service: m[1]!, family: m[2] === '4' ? 4 : 6 };
}

const SELECTOR_CHAIN = /^sel_(.+)_v([46])$/;

// The selector chain of a pool of a service with a rate limit: `sel_<name>_v4` / `sel_<name>_v6`. Its service chain
// keeps the limit's `drop` and jumps here, so a membership change rewrites a chain without a verdict.
export function selectorChain(service: string, family: 4 | 6): Ident {
  return ident(`sel_${service}_v${family}`);
}

// The service and family of a selector chain name, or null for any other chain (the reverse of selectorChain).
export function parseSelectorChain(name: string): { service: string; family: 4 | 6 } | null {
  const m = SELECTOR_CHAIN.exec(name);
  return m === null ? null : { service: m[1]!, family: m[2] === '4' ? 4 : 6 };
}

const GUARD_CHAIN = /^health_[0-9a-f]{8}$/;

// The guard chain of one full load by nftlb health: `health_` and 8 hex digits (32 random bits). An empty chain outside
// the fingerprinted body; any other load of the table drops it, so a script that starts by flushing it is refused as a
// whole by a table that is not the one health loaded.
export function guardChain(random32: number): Ident {
  return ident(`health_${(random32 >>> 0).toString(16).padStart(8, '0')}`);
}

// True for a name guardChain() makes (a state file's record of the guard is checked with it).
export function isGuardChain(name: string): boolean {
  return GUARD_CHAIN.test(name);
}
