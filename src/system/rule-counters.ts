import type { TableRef } from '../nft/ast.js';
import type { Host } from './host.js';

// The packets and bytes of the anonymous counters in one table's rules, asked of the kernel directly: one
// NFT_MSG_GETRULE dump of that table over netlink, through perl as the ruleset generation is (src/system/genid.ts).
// `nft -j list table` gives the same figures, but nft 1.0.6 first fetches the whole ruleset into its cache and then
// prints every rule with every expression: ~0.45 s at 10,000 services and ~2.9 s at 50,000, where this dump takes
// tens of milliseconds (README.md, nftlb status). Only what status needs is decoded: each rule's chain and the
// counter expressions among its expressions. Any failure (no perl, no netlink, an odd reply, a dump the kernel says
// was interrupted by a transaction three times in a row) is null, and the caller lists the table with nft instead.

/** nf_tables' family numbers (NFPROTO_*) of the families nftlb's tables use. */
export const NFPROTO = { inet: 1, ip: 2, ip6: 10, netdev: 5 } as const;

/** The program: ARGV family number and table name. An NFT_MSG_GETRULE (7) dump request (NLM_F_REQUEST | NLM_F_DUMP)
 *  filtered by NFTA_RULE_TABLE (1). For each rule message: its NFTA_RULE_CHAIN (2), and in NFTA_RULE_EXPRESSIONS (4)
 *  each NFTA_LIST_ELEM (1) whose NFTA_EXPR_NAME (1) is "counter": NFTA_EXPR_DATA (2) holds NFTA_COUNTER_BYTES (1) and
 *  NFTA_COUNTER_PACKETS (2), big-endian 64-bit. Prints `chain TAB packets TAB bytes` per counter, then `done`.
 *  Exit 5 with `error ERRNO` for a netlink error (2: no such table), 6 when a message carries NLM_F_DUMP_INTR (the
 *  ruleset changed during the dump: the caller asks again), 7 for a reply it cannot read. */
export const RULE_COUNTERS_PROGRAM = [
  'use Socket;',
  'my ($family, $table) = @ARGV;',
  'socket(my $s, 16, SOCK_RAW, 12) or exit 2;',
  'my $name = "$table\\0"; my $l = 4 + length($name);',
  'my $body = pack("CCn", $family, 0, 0) . pack("SS", $l, 1) . $name . ("\\0" x ((4 - $l % 4) % 4));',
  'send($s, pack("LSSLL", 16 + length($body), (10 << 8) | 7, 0x301, 1, 0) . $body, 0, pack("SSLL", 16, 0, 0, 0)) or exit 3;',
  // The counter expressions of one rule: among the NFTA_LIST_ELEMs between from and to (NFTA_RULE_EXPRESSIONS), those
  // whose NFTA_EXPR_NAME (their first attribute: 12 bytes, type 1) is "counter", and the NFTA_EXPR_DATA (type 2) after it.
  // Only the rule's own expressions: a counter inside another expression's data (a set statement's) is not one of them.
  'sub counters { my ($b, $from, $to) = @_; my @c;',
  ' for (my $e = $from; $e + 4 <= $to; ) { my ($el, $et) = unpack("SS", substr($b, $e, 4)); exit 7 if $el < 4 || $e + $el > $to;',
  '  if (($et & 0x3fff) == 1 && $el >= 24 && substr($b, $e + 8, 8) eq "counter\\0") {',
  '   my ($nl, $nt) = unpack("SS", substr($b, $e + 4, 4)); my ($dl, $dt) = unpack("SS", substr($b, $e + 16, 4));',
  '   exit 7 if $nl != 12 || ($nt & 0x3fff) != 1 || ($dt & 0x3fff) != 2 || $dl < 4 || $e + 16 + $dl > $e + $el;',
  '   my ($p, $y);',
  '   for (my $o = $e + 20; $o + 4 <= $e + 16 + $dl; ) { my ($al, $at) = unpack("SS", substr($b, $o, 4)); exit 7 if $al < 4;',
  '    if ($al == 12) { my $v = unpack("Q>", substr($b, $o + 4, 8)); if (($at & 0x3fff) == 1) { $y = $v } elsif (($at & 0x3fff) == 2) { $p = $v } }',
  '    $o += ($al + 3) & ~3 }',
  '   exit 7 if !defined($p) || !defined($y); push @c, "$p\\t$y" }',
  '  $e += ($el + 3) & ~3 }',
  ' return @c }',
  'while (1) {',
  ' defined(recv($s, my $b, 1 << 20, 0)) or exit 4; exit 4 if length($b) == 0;',
  ' for (my $o = 0; $o + 16 <= length($b); ) {',
  '  my ($len, $type, $flags) = unpack("LSS", substr($b, $o, 8)); exit 7 if $len < 16 || $o + $len > length($b);',
  '  if ($type == 3) { print "done\\n"; exit 0 }',
  '  if ($type == 2) { print "error ", -unpack("l", substr($b, $o + 16, 4)), "\\n"; exit 5 }',
  '  exit 6 if $flags & 0x10;',
  '  my ($chain, @c);',
  '  for (my $a = $o + 20; $a + 4 <= $o + $len; ) { my ($al, $at) = unpack("SS", substr($b, $a, 4)); exit 7 if $al < 4 || $a + $al > $o + $len;',
  '   if (($at & 0x3fff) == 2) { $chain = unpack("Z*", substr($b, $a + 4, $al - 4)) } elsif (($at & 0x3fff) == 4) { @c = counters($b, $a + 4, $a + $al) }',
  '   $a += ($al + 3) & ~3 }',
  '  if (@c) { exit 7 if !defined($chain) || $chain !~ /^[\\x21-\\x7e]+$/; print "$chain\\t$_\\n" for @c }',
  '  $o += ($len + 3) & ~3 } }',
].join('\n');

/** Packets and bytes of one chain's counters, summed. */
export interface ChainCounts {
  readonly packets: number;
  readonly bytes: number;
}

/** How many times a dump the kernel marks interrupted is asked again before the caller falls back to nft. */
const TRIES = 3;

// The counters of `table`'s rules by chain (summed per chain), or null when they cannot be read this way (see above).
export async function readRuleCounters(host: Host, table: TableRef): Promise<Map<string, ChainCounts> | null> {
  for (let i = 0; i < TRIES; i++) {
    let r;
    try {
      r = await host.exec.run(host.perl, ['-e', RULE_COUNTERS_PROGRAM, String(NFPROTO[table.family]), table.name]);
    } catch {
      return null;
    }
    if (r.exitCode === 6) continue;
    return r.exitCode === 0 ? parseRuleCounters(r.stdout) : null;
  }
  return null;
}

// The program's output (see RULE_COUNTERS_PROGRAM) summed by chain; null unless it ends with `done` and every other
// line is a chain and two whole numbers.
export function parseRuleCounters(text: string): Map<string, ChainCounts> | null {
  const out = new Map<string, ChainCounts>();
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.pop() !== 'done') return null;
  for (const line of lines) {
    const m = /^([\x21-\x7e]+)\t([0-9]+)\t([0-9]+)$/.exec(line);
    if (m === null) return null;
    const was = out.get(m[1]!);
    out.set(m[1]!, { packets: (was?.packets ?? 0) + Number(m[2]), bytes: (was?.bytes ?? 0) + Number(m[3]) });
  }
  return out;
}
