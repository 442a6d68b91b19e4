import type { Address } from '../model/types.js';

// The names nftlb gives objects in the engines' configurations, built and parsed here only: BIRD protocols (one static
// protocol per VIP, which nftlb enables to announce the VIP and disables to withdraw it, one BGP protocol per peer)
// and keepalived's instances and sync group.

/** Prefix of every BIRD protocol nftlb renders. */
export const BIRD_PREFIX = 'nftlb_';

const flat = (a: Address): string => a.text.replace(/[.:]/g, '_');

// The static protocol that announces one VIP: nftlb_vip4_203_0_113_1, nftlb_vip6_2001_db8_1__1.
export function vipProtocol(a: Address): string {
  return `${BIRD_PREFIX}vip${a.family}_${flat(a)}`;
}

// The BGP protocol of one peer: nftlb_peer4_198_51_100_1.
export function peerProtocol(a: Address): string {
  return `${BIRD_PREFIX}peer${a.family}_${flat(a)}`;
}

// The BIRD filter pattern that matches the VIP protocols of one family (what a session of that family exports).
export function vipPattern(family: 4 | 6): string {
  return `${BIRD_PREFIX}vip${family}_*`;
}

/** keepalived's names: the sync group and the two instances (clients' side, backends' side). */
export const VRRP_NAMES = {
  group: 'nftlb',
  front: 'nftlb_front',
  back: 'nftlb_back',
} as const;
