import { createHash } from 'node:crypto';

// Chain names and comments that go into iptables-restore input. Only values made here are printed as names.

declare const chainBrand: unique symbol;
/** A user chain name iptables accepts (at most 28 characters, no spaces). */
export type ChainName = string & { readonly [chainBrand]: true };

/** Every chain nftlb owns starts with this; nothing else is touched. */
export const CHAIN_PREFIX = 'NFTLB-';
/** The longest chain name iptables accepts (XT_EXTENSION_MAXNAMELEN - 1). */
export const MAX_CHAIN = 28;

const CHAIN = /^NFTLB-[A-Za-z0-9_-]{1,22}$/;

// Makes a chain name, refusing anything iptables could misread; callers build names from validated parts.
export function chainName(name: string): ChainName {
  if (!CHAIN.test(name) || name.length > MAX_CHAIN)
    throw new Error(`not a safe iptables chain name: ${JSON.stringify(name)}`);
  return name as ChainName;
}

/** Fixed chains: listener dispatch (nat PREROUTING and OUTPUT), source NAT (nat POSTROUTING), the empty-service
 * guard (filter INPUT, FORWARD and OUTPUT). */
export const FIXED = {
  dispatch: chainName('NFTLB-DISPATCH'),
  post: chainName('NFTLB-POST'),
  guard: chainName('NFTLB-GUARD'),
} as const;

// The chain of a service's pool: NFTLB-S-<name>, or a shortened name plus a hash when the name is too long.
export function serviceChain(service: string): ChainName {
  const full = `${CHAIN_PREFIX}S-${service}`;
  if (full.length <= MAX_CHAIN) return chainName(full);
  const h = createHash('sha256').update(service).digest('hex').slice(0, 8);
  return chainName(`${CHAIN_PREFIX}S-${service.slice(0, MAX_CHAIN - 8 - h.length - 1)}-${h}`);
}

// The chain of one backend: sets the ct mark to the backend id and DNATs.
export function backendChain(id: number): ChainName {
  return chainName(`${CHAIN_PREFIX}B-${id}`);
}

// Quotes text for `-m comment --comment`: printable ASCII without quotes or backslashes, at most 200 characters.
export function quoteComment(text: string): string {
  const clean = text
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, "'")
    .slice(0, 200);
  return `"${clean}"`;
}
