import type { Address, PortRange } from '../../model/types.js';
import type { NftlbComment } from '../comment.js';
import type { Endpoint, Masked } from './rule-values.js';

// What the import reads from iptables-save text: one record per -A line, with the options nftlb knows, and the lines it
// could not read.

/** A statistic match. */
export type Statistic =
  | { readonly mode: 'nth'; readonly every: number; readonly packet: number }
  | { readonly mode: 'random'; readonly probability: number };

/** One `-A` line, with the options nftlb knows. */
export interface ParsedRule {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly table: string;
  readonly chain: string;
  dst?: string;
  /** The destination, when it is one host (the VIP of a listener). */
  vip?: Address;
  src?: string;
  proto?: string;
  dports?: PortRange[];
  /** The --dport(s) value as written, for keys and derived names. */
  dportsText?: string;
  statistic?: Statistic;
  mark?: Masked;
  connmark?: Masked;
  ctstate?: string[];
  comment?: string;
  /** The comment, when nftlb wrote it. */
  note?: NftlbComment;
  outIf?: string;
  inIf?: string;
  target: string;
  /** Target options without the leading dashes, e.g. { 'to-destination': '198.51.100.2:8080' }. */
  readonly targetOpts: Record<string, string>;
  /** DNAT: where to. */
  to?: Endpoint;
  /** SNAT: the source address. */
  toSource?: Address;
  /** CONNMARK --set-xmark / --set-mark: the ct mark it sets. */
  connmarkSet?: Masked;
}

/** A line that could not be read, or a rule that is not part of any recognised recipe. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly reason: string;
  /** `table:chain` of an -A line that could not be read, so the chain's recipe is known to be incomplete. */
  readonly chain?: string;
  /** `table:chain` the line jumps to, so what that chain holds is known to be reached from a rule not understood. */
  readonly jumps?: string;
  /** The listener the line matches (listenerKey), so the other rules of an inline pool are known to be incomplete. */
  readonly listener?: string;
}

/** Every rule of one input file. */
export interface ParsedFile {
  readonly file: string;
  readonly rules: ParsedRule[];
  readonly problems: Problem[];
  /** `table:chain` of every chain declared (`:NAME ...`, `-N NAME`), with or without rules. */
  readonly declared: Set<string>;
}

// A rule that matches every packet that reaches it (a protocol match aside): a hook jump, a backend chain's DNAT.
export function matchesAll(r: ParsedRule): boolean {
  return (
    r.dst === undefined &&
    r.src === undefined &&
    r.dports === undefined &&
    r.statistic === undefined &&
    r.mark === undefined &&
    r.connmark === undefined &&
    r.ctstate === undefined &&
    r.inIf === undefined &&
    r.outIf === undefined
  );
}

// The key of the listener a rule matches: the rules of one inline pool share it.
export function listenerKey(chain: string, dst: string, proto: string, dports: string): string {
  return `${chain} ${dst} ${proto} ${dports}`;
}
