import type { TableRef } from '../nft/ast.js';
import type { Host } from './host.js';
import { NETLINK_DUMP_PRELUDE, parseDump, runDump } from './netlink-dump.js';

// The packets and bytes of the anonymous counters in one table's rules, asked of the kernel directly: one
// NFT_MSG_GETRULE dump of that table (src/system/netlink-dump.ts). `nft -j list table` gives the same figures, but
// nft 1.0.6 first fetches the whole ruleset into its cache and then prints every rule with every expression: ~0.45 s
// at 10,000 services and ~2.9 s at 50,000, where this dump takes tens of milliseconds (README.md, nftlb status). Only
// what status needs is decoded: each rule's chain and the counter expressions among its expressions. Any failure is
// null, and the caller lists the table with nft instead.

/** The program: ARGV family number and table name. An NFT_MSG_GETRULE (7) dump filtered by NFTA_RULE_TABLE (1). For
 *  each rule message: its NFTA_RULE_CHAIN (2), and in NFTA_RULE_EXPRESSIONS (4) each NFTA_LIST_ELEM (1) whose
 *  NFTA_EXPR_NAME (1) is "counter": NFTA_EXPR_DATA (2) holds NFTA_COUNTER_BYTES (1) and NFTA_COUNTER_PACKETS (2),
 *  big-endian 64-bit. Prints `chain TAB packets TAB bytes` per counter, then `done` (a table that is not there has no
 *  rules). */
export const RULE_COUNTERS_PROGRAM = [
  NETLINK_DUMP_PRELUDE,
  'my ($family, $table) = @ARGV;',
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
  'nl_dump(7, $family, attr(1, "$table\\0"), sub { my ($b, $from, $to) = @_; my ($chain, @c);',
  ' for (my $a = $from; $a + 4 <= $to; ) { my ($al, $at) = unpack("SS", substr($b, $a, 4)); exit 7 if $al < 4 || $a + $al > $to;',
  '  if (($at & 0x3fff) == 2) { $chain = unpack("Z*", substr($b, $a + 4, $al - 4)) } elsif (($at & 0x3fff) == 4) { @c = counters($b, $a + 4, $a + $al) }',
  '  $a += ($al + 3) & ~3 }',
  ' if (@c) { exit 7 if !defined($chain) || $chain !~ /^[\\x21-\\x7e]+$/; print "$chain\\t$_\\n" for @c } });',
  'print "done\\n";',
].join('\n');

/** Packets and bytes of one chain's counters, summed. */
export interface ChainCounts {
  readonly packets: number;
  readonly bytes: number;
}

// The counters of `table`'s rules by chain (summed per chain), or null when they cannot be read this way (see above).
export function readRuleCounters(host: Host, table: TableRef): Promise<Map<string, ChainCounts> | null> {
  return runDump(host, RULE_COUNTERS_PROGRAM, table, [], ruleCountersOf);
}

// The program's output (see RULE_COUNTERS_PROGRAM) summed by chain; null unless it ends with `done` and every other
// line is a chain and two whole numbers.
export function parseRuleCounters(text: string): Map<string, ChainCounts> | null {
  return parseDump(text, ruleCountersOf);
}

function ruleCountersOf(lines: readonly string[]): Map<string, ChainCounts> | null {
  const out = new Map<string, ChainCounts>();
  for (const line of lines) {
    const m = /^([\x21-\x7e]+)\t([0-9]+)\t([0-9]+)$/.exec(line);
    if (m === null) return null;
    addCounts(out, m[1]!, { packets: Number(m[2]), bytes: Number(m[3]) });
  }
  return out;
}

// Adds one counter's figures to its chain's.
export function addCounts(into: Map<string, ChainCounts>, chain: string, n: ChainCounts): void {
  const was = into.get(chain);
  into.set(chain, was === undefined ? n : { packets: was.packets + n.packets, bytes: was.bytes + n.bytes });
}
