import type { HashField } from '../model/types.js';
import type { Ident } from './names.js';

// Typed nodes for the part of the nft language nftlb emits. Only render.ts turns them into text.

/** Packet and conntrack fields used in matches and keys. */
export type Field =
  | 'ip saddr'
  | 'ip daddr'
  | 'ip6 saddr'
  | 'ip6 daddr'
  | 'th sport'
  | 'th dport'
  | 'meta l4proto'
  | 'meta nfproto'
  | 'meta protocol'
  | 'meta pkttype'
  | 'meta mark'
  | 'ct mark'
  | 'ct state'
  | 'ct status'
  /** The conntrack entry's original source (who opened the connection) and reply source (where replies come from: the
   *  backend after DNAT), the same for every packet of the connection, either direction. */
  | 'ct original ip saddr'
  | 'ct original ip6 saddr'
  | 'ct reply ip saddr'
  | 'ct reply ip6 saddr';

/** Symbolic constants nft accepts on the right of a match. */
export type Symbol = 'tcp' | 'udp' | 'ipv4' | 'ipv6' | 'new' | 'dnat' | 'ip' | 'ip6' | 'host';

export type Expr =
  | { readonly kind: 'field'; readonly field: Field }
  | { readonly kind: 'symbol'; readonly value: Symbol }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'concat'; readonly parts: readonly Expr[] }
  | { readonly kind: 'anon-set'; readonly items: readonly Expr[] }
  | { readonly kind: 'set-ref'; readonly name: Ident }
  | { readonly kind: 'numgen'; readonly mode: 'inc' | 'random'; readonly mod: number; readonly offset: number }
  | {
      readonly kind: 'jhash';
      readonly input: Expr;
      readonly mod: number;
      readonly seed: number;
      readonly offset: number;
    }
  | { readonly kind: 'symhash'; readonly mod: number; readonly offset: number }
  | { readonly kind: 'map-lookup'; readonly key: Expr; readonly map: Ident }
  /** A number written in hex (ct marks read better so: 0x00101000). */
  | { readonly kind: 'hex'; readonly value: number }
  /** The network mask of a prefix length: 255.255.255.0 for (4, 24), ffff:ffff:ffff:ffff:: for (6, 64). */
  | { readonly kind: 'prefix-mask'; readonly family: 4 | 6; readonly length: number }
  /** The first `length` bits of a 'bits'-wide integer set, in hex: the mask of a prefix within a raw payload field. */
  | { readonly kind: 'hex-mask'; readonly bits: number; readonly length: number }
  /** Raw bits of the network header: `@nh,offset,length` (offset and length in bits). */
  | { readonly kind: 'raw-nh'; readonly offset: number; readonly length: number }
  /** Bitwise and (`left & right`); parenthesized inside a concatenation, where nft 1.0.6 needs it. */
  | { readonly kind: 'and'; readonly left: Expr; readonly right: Expr }
  /** Shift right by a constant number of bits (`left >> bits`). */
  | { readonly kind: 'shift-right'; readonly left: Expr; readonly bits: number }
  /** An address or prefix in canonical text (parsed by model/address.ts, never user text as written). */
  | { readonly kind: 'address'; readonly text: string }
  /** An inclusive range of numbers (`8000-8010`), or one number when first === last. */
  | { readonly kind: 'range'; readonly first: number; readonly last: number };

export type Verdict =
  { readonly kind: 'goto' | 'jump'; readonly chain: Ident } | { readonly kind: 'accept' | 'drop' | 'return' };

export type Stmt =
  | { readonly kind: 'match'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'counter' }
  | { readonly kind: 'ct-mark-set'; readonly value: Expr }
  /** The packet's mark (netdev has no conntrack: DSR keeps its slot and backend id there). */
  | { readonly kind: 'meta-mark-set'; readonly value: Expr }
  /** netdev: send the packet out of `device` to the neighbour `to` (the kernel resolves its MAC and writes the
   *  device's own as the source); the packet leaves nft's hands. */
  | { readonly kind: 'fwd'; readonly family: 4 | 6; readonly to: Expr; readonly device: string }
  | { readonly kind: 'vmap'; readonly key: Expr; readonly map: Ident }
  | { readonly kind: 'nat'; readonly type: 'dnat' | 'snat'; readonly family: 4 | 6; readonly to: Expr }
  | { readonly kind: 'masquerade' }
  | { readonly kind: 'reject'; readonly with: 'tcp reset' | 'default' }
  /** Matches while more than perSecond (+ burst) packets per second hit it (token bucket). */
  | { readonly kind: 'limit-over'; readonly perSecond: number; readonly burst: number }
  /** Matches while the connections counted by this rule (the current one included) exceed over. */
  | { readonly kind: 'ct-count-over'; readonly over: number }
  /** Writes a dynamic map from the packet path: `update @m { key timeout T : value }` adds the element or, when the key
   *  is there, restarts its timeout (the value stays); `delete @m { key : value }` removes it (nft 1.0.6 wants a value
   *  for a map; the kernel ignores it). A full map makes `update` end its rule. */
  | {
      readonly kind: 'set-update';
      readonly op: 'update' | 'delete';
      readonly set: Ident;
      readonly key: Expr;
      readonly timeout?: number;
      readonly value: Expr;
    }
  /** Matches while more than `rate` packets per `unit` (+ burst) hit it (token bucket). */
  | {
      readonly kind: 'limit-over-per';
      readonly rate: number;
      readonly unit: 'second' | 'minute' | 'hour' | 'day';
      readonly burst: number;
    }
  /** `log prefix "..."` to the kernel log at a level, or to an NFLOG group (nft refuses both together). */
  | {
      readonly kind: 'log';
      readonly prefix: string;
      readonly to:
        { readonly kind: 'kernel'; readonly level: string } | { readonly kind: 'nflog'; readonly group: number };
    }
  /** `meta nftrace set 1`: `nft monitor trace` follows this packet through every later rule (any table). */
  | { readonly kind: 'nftrace' }
  | { readonly kind: 'verdict'; readonly verdict: Verdict };

export interface Rule {
  readonly stmts: readonly Stmt[];
}

/** Address family of a table. `inet` holds IPv4 and IPv6; `netdev` sees frames at a device's ingress (before IP). */
export type TableFamily = 'inet' | 'ip' | 'ip6' | 'netdev';

/** A table by family and name: how every command names the table it acts on. */
export interface TableRef {
  readonly family: TableFamily;
  readonly name: Ident;
}

/** A base chain's hook; priority is a named priority with an optional offset (dstnat - 10), or a number where nft
 * 1.0.6 has no name for it (the output hook rejects `dstnat`). A netdev `ingress` hook names its device. */
export interface Hook {
  readonly type: 'nat' | 'filter';
  readonly hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress';
  /** Device of a netdev ingress hook (an interface name, quoted when rendered). */
  readonly device?: string;
  readonly priority: 'dstnat' | 'srcnat' | 'filter' | 'raw' | 'mangle' | number;
  readonly priorityOffset: number;
  readonly policy: 'accept' | 'drop';
}

export interface Chain {
  readonly name: Ident;
  readonly hook?: Hook;
  /** The chain's comment (nft keeps it with the chain, so it changes with each load of the chain). */
  readonly comment?: string;
  readonly rules: readonly Rule[];
}

/** nft data types used in set and map declarations. */
export type DataType = 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service' | 'mark';

/** One set or map element in nft syntax: `key` alone names it (`delete element`); a map element also has its `value`
 *  (`key : value`). Text, not nodes: a table at 50k services holds a quarter of a million elements. In a set with
 *  `flags timeout` an element may carry its own timeout and the time left until it expires (both in seconds). */
export interface Element {
  readonly key: string;
  readonly value?: string;
  readonly timeout?: number;
  readonly expires?: number;
}

/** Set flags nftlb uses: `interval` (range keys), `dynamic` (the packet path adds elements: `update @s`), `timeout`
 *  (elements expire). */
export type SetFlag = 'interval' | 'dynamic' | 'timeout';

export interface SetDecl {
  readonly kind: 'set' | 'map';
  readonly name: Ident;
  readonly key: readonly DataType[];
  /** Map value type; 'verdict' for verdict maps. */
  readonly value?: readonly DataType[] | 'verdict';
  /** In the order nft lists them (interval, dynamic, timeout) so a listing and the script read alike. */
  readonly flags: readonly SetFlag[];
  /** Declared by the expressions that fill it (`typeof KEY . KEY : VALUE`) instead of `key`/`value`: for keys no nft
   *  type names, such as raw payload bits. */
  readonly typeof?: { readonly key: readonly Expr[]; readonly value: Expr };
  /** Default element timeout in seconds (`timeout 300s`); only with the timeout flag. */
  readonly timeout?: number;
  /** nft `size`: the most elements this map can hold. For a map the packet path adds to (dynamic) it is required. For a
   *  hash map nftlb fills, the most it can hold under this config whatever the health verdicts: with it the kernel
   *  sizes a fixed hash once instead of growing an rhashtable while the elements load (docs/architecture.md). Absent
   *  when the map can never hold an element. */
  readonly size?: number;
  readonly elements: readonly Element[];
}

/** A table declaration: what `table FAMILY NAME { ... }` holds. */
export interface Table {
  readonly family: TableFamily;
  readonly name: Ident;
  readonly comment: string;
  readonly sets: readonly SetDecl[];
  readonly chains: readonly Chain[];
}

/** A set whose elements may be generated on demand (each iteration may produce them anew). */
export interface SetView extends Omit<SetDecl, 'elements'> {
  readonly elements: Iterable<Element>;
}

/** A table whose elements and chains may be generated on demand; what the renderer takes. A Table is one. */
export interface TableView {
  readonly family: TableFamily;
  readonly name: Ident;
  readonly comment: string;
  readonly sets: readonly SetView[];
  readonly chains: Iterable<Chain>;
}

/** Hash inputs by family. */
export const HASH_FIELD: Record<4 | 6, Record<HashField, Field>> = {
  4: { saddr: 'ip saddr', daddr: 'ip daddr', sport: 'th sport', dport: 'th dport' },
  6: { saddr: 'ip6 saddr', daddr: 'ip6 daddr', sport: 'th sport', dport: 'th dport' },
};
