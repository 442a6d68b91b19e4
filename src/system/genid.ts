import type { Host } from './host.js';

// The ruleset generation of the kernel (per network namespace): nf_tables counts every committed transaction, on any
// table, by anyone. Equal generations before and after mean nothing in the ruleset changed in between: no table
// replaced, no rule, chain, set or element added or deleted by hand. nft 1.0.6 reads it before each cache fill but never
// prints it, so it is asked directly with one NFT_MSG_GETGEN netlink request. Node has no netlink socket; perl (perl-base
// is Essential in Debian, so it is on every host nftlb's package runs on) opens one with its socket builtin. The numbers
// are Linux's own (SOCK_RAW is 3 on every architecture): perl's Socket module, which names them, takes ~5 ms to load,
// more than the rest of the program (~1.5 ms).
// What this costs nothing to be wrong about: any failure (no perl, no netlink, an odd reply) is null, and every caller
// then takes the path that does not rely on the generation.

/** The program: AF_NETLINK (16), SOCK_RAW (3), NETLINK_NETFILTER (12); a request of type NFNL_SUBSYS_NFTABLES << 8 |
 *  NFT_MSG_GETGEN (16) with NLM_F_REQUEST; the reply (NFT_MSG_NEWGEN, 15) carries attribute NFTA_GEN_ID (1) is printed in decimal. */
export const GETGEN_PROGRAM = [
  'socket(my $s, 16, 3, 12) or exit 2;',
  'send($s, pack("LSSLL CCn", 20, (10 << 8) | 16, 1, 1, 0, 0, 0, 0), 0, pack("SSLL", 16, 0, 0, 0)) or exit 3;',
  'defined(recv($s, my $b, 8192, 0)) or exit 4;',
  'my ($len, $type) = unpack("LS", $b); exit 5 if $type != ((10 << 8) | 15) || $len > length($b);',
  'for (my $o = 20; $o + 8 <= $len; ) { my ($l, $t) = unpack("SS", substr($b, $o, 4)); last if $l < 4;',
  ' if (($t & 0x7fff) == 1 && $l == 8) { print unpack("N", substr($b, $o + 4, 4)), "\\n"; exit 0 } $o += ($l + 3) & ~3 }',
  'exit 6;',
].join('\n');

// The ruleset generation now, or null when it cannot be read (see above).
export async function rulesetGeneration(host: Host): Promise<number | null> {
  try {
    const r = await host.exec.run(host.perl, ['-e', GETGEN_PROGRAM]);
    const n = Number(r.stdout.trim());
    return r.exitCode === 0 && /^[0-9]+$/.test(r.stdout.trim()) && Number.isSafeInteger(n) ? n : null;
  } catch {
    return null;
  }
}
