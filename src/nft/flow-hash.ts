import { addressBytes } from '../model/address.js';
import type { Address, HashField } from '../model/types.js';
import { jhash, reciprocalScale } from '../plan/jhash.js';
import type { Pool, Selector } from '../plan/types.js';

// What the kernel computes for nftlb's selectors, offline: the bytes nft loads into registers for `jhash <fields>`, the
// hash, and the slot (then the backend) it picks. `nftlb which` answers "where does this client land" with it; a kernel
// test checks it against real packets.

/** The header fields of one packet (the client's direction). */
export interface Flow {
  readonly saddr: Address;
  readonly daddr: Address;
  readonly sport: number;
  readonly dport: number;
}

/** Bytes of each field in a register: addresses 4 or 16, ports 2 (network order). */
const fieldBytes = (f: HashField, flow: Flow): number[] => {
  switch (f) {
    case 'saddr':
      return addressBytes(flow.saddr);
    case 'daddr':
      return addressBytes(flow.daddr);
    case 'sport':
      return [flow.sport >> 8, flow.sport & 0xff];
    case 'dport':
      return [flow.dport >> 8, flow.dport & 0xff];
  }
};

// The bytes `jhash <fields>` hashes, as nft lays them out: one field as it is (a port is 2 bytes); a concatenation
// with each field padded to a 4-byte register (NFT_REG32_SIZE), the padding zero (the payload expression clears the
// rest of its last register). Measured on kernel 6.18 with nft 1.0.6: ip saddr . th sport is 8 bytes, th sport alone 2.
export function hashInput(fields: readonly HashField[], flow: Flow): Uint8Array {
  if (fields.length === 1) return Uint8Array.from(fieldBytes(fields[0]!, flow));
  const out: number[] = [];
  for (const f of fields) {
    const b = fieldBytes(f, flow);
    out.push(...b);
    while (out.length % 4 !== 0) out.push(0);
  }
  return Uint8Array.from(out);
}

// The slot (0 .. mod-1, before the offset) a jhash selector gives a flow.
export function jhashSlot(sel: Selector & { kind: 'jhash' }, flow: Flow): number {
  return reciprocalScale(jhash(hashInput(sel.fields, flow), sel.seed), sel.mod);
}

/** Which backend a pool gives a new connection, as far as it can be known offline. */
export type Pick =
  | { readonly kind: 'backend'; readonly id: number; readonly slot: number | undefined }
  | { readonly kind: 'empty' }
  | { readonly kind: 'unknowable'; readonly why: string };

// The backend id the pool's selector and slot table give the flow: the constant of a one-backend pool, the slot a
// hash picks; counters, random numbers and symhash's per-boot key have no offline answer.
export function pickFor(pool: Pool, flow: Flow): Pick {
  const sel = pool.selector;
  if (sel === null) return { kind: 'empty' };
  switch (sel.kind) {
    case 'constant':
      return { kind: 'backend', id: pool.slots[0]!, slot: undefined };
    case 'jhash': {
      const slot = jhashSlot(sel, flow);
      return { kind: 'backend', id: pool.slots[slot]!, slot };
    }
    case 'numgen':
      return {
        kind: 'unknowable',
        why: `numgen ${sel.mode} picks by ${sel.mode === 'inc' ? "the node's own counter" : 'a random number'} for each new connection`,
      };
    case 'symhash':
      return { kind: 'unknowable', why: 'symhash hashes with a key the kernel chose at boot, which nft does not show' };
  }
}
