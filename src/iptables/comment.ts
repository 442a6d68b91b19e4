import type { BackendState } from '../model/types.js';

// The comments nftlb puts on its iptables rules (`-m comment --comment "..."`), written by the render and read back by
// `nftlb import iptables`: the one place that knows their grammar. They carry what the rules do not show: a service's
// name, the scheduler of a pool of one backend, a backend's configured state and weight.

/** What one nftlb comment says. */
export type NftlbComment =
  /** On a listener rule (NFTLB-DISPATCH): `nftlb service NAME SCHEDULER`; the scheduler may be missing when read. */
  | { readonly kind: 'service'; readonly name: string; readonly scheduler: string | undefined }
  /** On a guard rule (NFTLB-GUARD, no backend up): `nftlb service NAME SCHEDULER no backend up`. */
  | { readonly kind: 'guard'; readonly name: string; readonly scheduler: string | undefined }
  /** On a backend chain's CONNMARK rule: `nftlb service NAME backend STATE weight W`. */
  | { readonly kind: 'backend'; readonly name: string; readonly state: BackendState; readonly weight: number };

/** What reading a comment gives: an nftlb comment, one in nftlb's form that no config can give (why), or nothing (a
 * comment nftlb did not write). */
export type CommentReading = NftlbComment | { readonly kind: 'malformed'; readonly reason: string } | undefined;

/** The heaviest backend weight a config accepts (the config schema's maximum). */
export const MAX_WEIGHT = 10000;

const NAME = '([A-Za-z0-9][A-Za-z0-9_-]{0,47})';
const SCHEDULER = '(round-robin|random|source-hash|symmetric-hash|maglev)';
const SERVICE = new RegExp(`^nftlb service ${NAME}(?: ${SCHEDULER})?( no backend up)?$`);
const BACKEND = new RegExp(`^nftlb service ${NAME} backend (up|down|drain|backup) weight ([0-9]+)$`);

// The text of a comment, as the render writes it.
export function commentText(c: NftlbComment): string {
  switch (c.kind) {
    case 'service':
      return `nftlb service ${c.name}${c.scheduler === undefined ? '' : ` ${c.scheduler}`}`;
    case 'guard':
      return `nftlb service ${c.name}${c.scheduler === undefined ? '' : ` ${c.scheduler}`} no backend up`;
    case 'backend':
      return `nftlb service ${c.name} backend ${c.state} weight ${c.weight}`;
  }
}

// Reads a comment's text back; a weight no config accepts makes the comment malformed (the rule is then not
// understood, rather than imported with a weight nftlb would refuse).
export function readComment(text: string): CommentReading {
  const s = SERVICE.exec(text);
  if (s !== null) return { kind: s[3] === undefined ? 'service' : 'guard', name: s[1]!, scheduler: s[2] };
  const b = BACKEND.exec(text);
  if (b === null) return undefined;
  const weight = Number(b[3]);
  if (weight < 1 || weight > MAX_WEIGHT)
    return { kind: 'malformed', reason: `weight ${b[3]} in the nftlb comment is outside 1..${MAX_WEIGHT}` };
  return { kind: 'backend', name: b[1]!, state: b[2] as BackendState, weight };
}
