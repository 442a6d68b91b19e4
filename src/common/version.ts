// nftlb's version, printed by --version and written into every script header.
export const VERSION = '0.1.0';

// Set by the bundle (scripts/bundle.mjs): a digest of the code it was built from.
declare const __NFTLB_BUILD__: string | undefined;

/** What tells one build of nftlb from another of the same VERSION (a fix, a distribution's patch): the digest of its
 *  compiled code; '' when nftlb runs unbundled (the tests). */
export const BUILD: string = typeof __NFTLB_BUILD__ === 'string' ? __NFTLB_BUILD__ : '';

/** What a record nftlb left for a later run (apply's no-op record) names as its maker: VERSION, and BUILD when there
 *  is one. A record of another build proves nothing: that build may have rendered another script for the same config. */
export const IDENTITY: string = BUILD === '' ? VERSION : `${VERSION}+${BUILD}`;
