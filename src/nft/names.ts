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
