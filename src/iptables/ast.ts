import type { Address, Family, HashField, PortRange, Protocol } from '../model/types.js';
import type { ChainName } from './names.js';

// Typed rules for the part of iptables-restore input nftlb emits. Only render.ts turns them into text.

/** A match, in the order it is written on the rule line. */
export type IptMatch =
  | { readonly kind: 'dst'; readonly address: Address }
  | { readonly kind: 'proto'; readonly proto: Protocol }
  | { readonly kind: 'dport'; readonly proto: Protocol; readonly ports: PortRange }
  | { readonly kind: 'nth'; readonly every: number }
  | { readonly kind: 'random'; readonly probability: number }
  | { readonly kind: 'mark'; readonly value: number }
  | { readonly kind: 'connmark'; readonly value: number }
  | { readonly kind: 'ctstate'; readonly state: 'NEW' | 'DNAT' }
  | { readonly kind: 'comment'; readonly text: string };

/** What a rule does when every match holds. */
export type IptTarget =
  | { readonly kind: 'jump'; readonly chain: ChainName }
  | { readonly kind: 'dnat'; readonly to: string }
  | { readonly kind: 'snat'; readonly to: Address }
  | { readonly kind: 'masquerade' }
  | { readonly kind: 'connmark-set'; readonly value: number }
  | { readonly kind: 'connmark-save' }
  | { readonly kind: 'connmark-restore' }
  | {
      readonly kind: 'hmark';
      readonly tuple: readonly HashField[];
      readonly mod: number;
      readonly offset: number;
      readonly seed: number;
    }
  | { readonly kind: 'reject'; readonly with: 'tcp-reset' | 'default' }
  | { readonly kind: 'drop' };

export interface IptRule {
  readonly matches: readonly IptMatch[];
  readonly target: IptTarget;
}

export interface IptChain {
  readonly name: ChainName;
  readonly rules: readonly IptRule[];
}

/** One `*table ... COMMIT` block; only user chains, never the built-in ones (nftlb never flushes those). */
export interface IptTable {
  readonly name: 'nat' | 'filter';
  readonly chains: readonly IptChain[];
}

/** Everything for one family: iptables-restore (4) or ip6tables-restore (6) input. */
export interface IptRuleset {
  readonly family: Family;
  readonly tables: readonly IptTable[];
  /** Services that have pools in the other family (named in a header comment). */
  readonly otherFamily: readonly string[];
}
