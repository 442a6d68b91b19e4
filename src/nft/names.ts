// Identifiers that go into an nft script. Only values made by ident() are ever printed as names.

declare const identBrand: unique symbol;
/** A name nft accepts as a table, chain, set or map name. */
export type Ident = string & { readonly [identBrand]: true };

// Words nft 1.0.6 parses as keywords where a name is expected (quoting does not help); verified in nft-cookbook.md.
export const NFT_KEYWORDS: ReadonlySet<string> = new Set([
  'fwd',
  'counter',
  'log',
  'map',
  'set',
  'dnat',
  'snat',
  'masquerade',
  'limit',
  'quota',
  'meter',
  'ct',
  'mark',
  'ip',
  'ip6',
  'inet',
  'tcp',
  'udp',
  'jump',
  'goto',
  'accept',
  'drop',
  'queue',
  'reject',
  'dup',
  'notrack',
  'synproxy',
  'flow',
  'table',
  'chain',
  'rule',
  'element',
  'elements',
  'type',
  'hook',
  'priority',
  'policy',
  'meta',
  'numgen',
  'jhash',
  'symhash',
  'return',
  'continue',
  'flowtable',
  'secmark',
  'th',
  'comment',
]);

const IDENT = /^[A-Za-z][A-Za-z0-9_.-]{0,255}$/;

// Makes an nft identifier, refusing anything nft would misparse; callers build names from validated parts.
export function ident(name: string): Ident {
  if (!IDENT.test(name) || NFT_KEYWORDS.has(name))
    throw new Error(`not a safe nft identifier: ${JSON.stringify(name)}`);
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
