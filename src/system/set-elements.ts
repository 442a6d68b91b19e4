import type { TableRef } from '../nft/ast.js';
import type { Ident } from '../nft/names.js';
import { ENTRY_MAPS } from '../nft/persistence.js';
import { entriesOfElements, type KernelElement, type LiveEntry } from '../nft/persistence-entries.js';
import type { Host } from './host.js';
import { NETLINK_DUMP_PRELUDE, parseDump, runDump } from './netlink-dump.js';

// The elements of some sets or maps of one table, asked of the kernel directly: one NFT_MSG_GETSETELEM dump per set
// (src/system/netlink-dump.ts). nft's JSON listing of a table with its elements takes ~1.1 s at 10,000 services (it
// fetches and prints everything); `nftlb status` needs only the persistence entry maps. The elements come back raw
// (key and data bytes, the time left): what they mean is the caller's (src/nft/persistence-entries.ts). Any failure
// is null, and the caller lists with nft instead.

/** The program: ARGV family number, table name, then set names. Per set, an NFT_MSG_GETSETELEM (13) dump with
 *  NFTA_SET_ELEM_LIST_TABLE (1) and NFTA_SET_ELEM_LIST_SET (2); in each reply, NFTA_SET_ELEM_LIST_ELEMENTS (3) holds
 *  one NFTA_LIST_ELEM (1) per element: NFTA_SET_ELEM_KEY (1) and NFTA_SET_ELEM_DATA (2), each an NFTA_DATA_VALUE (1),
 *  and NFTA_SET_ELEM_EXPIRATION (5, milliseconds, big-endian 64-bit). Prints `set TAB key-hex TAB data-hex TAB ms` per
 *  element (`-` for what it lacks), then `done`. A set that is not there has no elements. */
export const SET_ELEMENTS_PROGRAM = [
  NETLINK_DUMP_PRELUDE,
  'my ($family, $table, @sets) = @ARGV;',
  'sub attrs { my ($b, $from, $to) = @_; my %a;',
  ' for (my $o = $from; $o + 4 <= $to; ) { my ($al, $at) = unpack("SS", substr($b, $o, 4)); exit 7 if $al < 4 || $o + $al > $to;',
  '  $a{$at & 0x3fff} = [$o + 4, $o + $al]; $o += ($al + 3) & ~3 } return \\%a }',
  'sub value { my ($b, $r) = @_; return "-" if !defined($r); my $v = attrs($b, $r->[0], $r->[1])->{1}; exit 7 if !defined($v);',
  ' unpack("H*", substr($b, $v->[0], $v->[1] - $v->[0])) }',
  'for my $set (@sets) {',
  ' nl_dump(13, $family, attr(1, "$table\\0") . attr(2, "$set\\0"), sub { my ($b, $from, $to) = @_;',
  '  my $list = attrs($b, $from, $to)->{3}; return if !defined($list);',
  '  for (my $e = $list->[0]; $e + 4 <= $list->[1]; ) { my ($el, $et) = unpack("SS", substr($b, $e, 4)); exit 7 if $el < 4 || $e + $el > $list->[1];',
  '   if (($et & 0x3fff) == 1) { my $x = attrs($b, $e + 4, $e + $el); exit 7 if !defined($x->{1});',
  '    my $ms = defined($x->{5}) && $x->{5}[1] - $x->{5}[0] == 8 ? unpack("Q>", substr($b, $x->{5}[0], 8)) : "-";',
  '    print "$set\\t", value($b, $x->{1}), "\\t", value($b, $x->{2}), "\\t$ms\\n" }',
  '   $e += ($el + 3) & ~3 } }) }',
  'print "done\\n";',
].join('\n');

// The elements of `sets` in `table`, by set name (none for a set that is not there), or null when they cannot be read
// this way (see above).
export function readSetElements(
  host: Host,
  table: TableRef,
  sets: readonly string[],
): Promise<Map<string, KernelElement[]> | null> {
  return runDump(host, SET_ELEMENTS_PROGRAM, table, sets, (lines) => setElementsOf(lines, sets));
}

// The persistence entries in `table`'s entry maps (none for a map that is not there), or null when they cannot be read
// this way: `nftlb status` counts them, `nftlb persistence` lists and flushes them.
export async function readEntryMaps(host: Host, table: TableRef): Promise<LiveEntry[] | null> {
  const maps = await readSetElements(host, table, ENTRY_MAPS);
  return maps === null ? null : [...maps].flatMap(([name, elements]) => entriesOfElements(name as Ident, elements));
}

// The program's output (see SET_ELEMENTS_PROGRAM) by set; null unless it ends with `done` and every other line is
// one of `sets`, hex key, hex data or `-`, and milliseconds or `-`.
export function parseSetElements(text: string, sets: readonly string[]): Map<string, KernelElement[]> | null {
  return parseDump(text, (lines) => setElementsOf(lines, sets));
}

function setElementsOf(lines: readonly string[], sets: readonly string[]): Map<string, KernelElement[]> | null {
  const out = new Map<string, KernelElement[]>(sets.map((s) => [s, []]));
  for (const line of lines) {
    const m = /^([^\t]+)\t((?:[0-9a-f]{2})+)\t((?:[0-9a-f]{2})+|-)\t([0-9]+|-)$/.exec(line);
    const into = m === null ? undefined : out.get(m[1]!);
    if (m === null || into === undefined) return null;
    into.push({
      key: Buffer.from(m[2]!, 'hex'),
      data: m[3] === '-' ? null : Buffer.from(m[3]!, 'hex'),
      expiresMs: m[4] === '-' ? null : Number(m[4]),
    });
  }
  return out;
}
