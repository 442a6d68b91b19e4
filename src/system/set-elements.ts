import type { TableRef } from '../nft/ast.js';
import type { KernelElement } from '../nft/persistence-entries.js';
import { NFPROTO } from './rule-counters.js';
import type { Host } from './host.js';

// The elements of some sets or maps of one table, asked of the kernel directly: one NFT_MSG_GETSETELEM dump per set
// over netlink, through perl (as the rule counters are: src/system/rule-counters.ts). nft's JSON listing of a table
// with its elements takes ~1.1 s at 10,000 services (it fetches and prints everything); `nftlb status` needs only the
// persistence entry maps. The elements come back raw (key and data bytes, the time left): what they mean is the
// caller's (src/nft/persistence-entries.ts). Any failure is null, and the caller lists with nft instead.

/** The program: ARGV family number, table name, then set names. Per set, an NFT_MSG_GETSETELEM (13) dump request with
 *  NFTA_SET_ELEM_LIST_TABLE (1) and NFTA_SET_ELEM_LIST_SET (2); in each reply, NFTA_SET_ELEM_LIST_ELEMENTS (3) holds
 *  one NFTA_LIST_ELEM (1) per element: NFTA_SET_ELEM_KEY (1) and NFTA_SET_ELEM_DATA (2), each an NFTA_DATA_VALUE (1),
 *  and NFTA_SET_ELEM_EXPIRATION (5, milliseconds, big-endian 64-bit). Prints `set TAB key-hex TAB data-hex TAB ms` per
 *  element (`-` for what it lacks), then `done`. A set that is not there (ENOENT) has no elements. Exit 5 with
 *  `error ERRNO` for another netlink error, 6 when a message carries NLM_F_DUMP_INTR (the caller asks again), 7 for a
 *  reply it cannot read. */
export const SET_ELEMENTS_PROGRAM = [
  'use Socket;',
  'my ($family, $table, @sets) = @ARGV;',
  'socket(my $s, 16, SOCK_RAW, 12) or exit 2;',
  'sub attr { my ($t, $v) = @_; my $l = 4 + length($v); pack("SS", $l, $t) . $v . ("\\0" x ((4 - $l % 4) % 4)) }',
  'sub attrs { my ($b, $from, $to) = @_; my %a;',
  ' for (my $o = $from; $o + 4 <= $to; ) { my ($al, $at) = unpack("SS", substr($b, $o, 4)); exit 7 if $al < 4 || $o + $al > $to;',
  '  $a{$at & 0x3fff} = [$o + 4, $o + $al]; $o += ($al + 3) & ~3 } return \\%a }',
  'sub value { my ($b, $r) = @_; return "-" if !defined($r); my $v = attrs($b, $r->[0], $r->[1])->{1}; exit 7 if !defined($v);',
  ' unpack("H*", substr($b, $v->[0], $v->[1] - $v->[0])) }',
  'my $seq = 0;',
  'for my $set (@sets) {',
  ' my $body = pack("CCn", $family, 0, 0) . attr(1, "$table\\0") . attr(2, "$set\\0"); $seq++;',
  ' send($s, pack("LSSLL", 16 + length($body), (10 << 8) | 13, 0x301, $seq, 0) . $body, 0, pack("SSLL", 16, 0, 0, 0)) or exit 3;',
  ' DUMP: while (1) {',
  '  defined(recv($s, my $b, 1 << 20, 0)) or exit 4; exit 4 if length($b) == 0;',
  '  for (my $o = 0; $o + 16 <= length($b); ) {',
  '   my ($len, $type, $flags) = unpack("LSS", substr($b, $o, 8)); exit 7 if $len < 16 || $o + $len > length($b);',
  '   last DUMP if $type == 3;',
  '   if ($type == 2) { my $err = -unpack("l", substr($b, $o + 16, 4)); last DUMP if $err == 2; print "error $err\\n"; exit 5 }',
  '   exit 6 if $flags & 0x10;',
  '   my $list = attrs($b, $o + 20, $o + $len)->{3};',
  '   if (defined($list)) {',
  '    for (my $e = $list->[0]; $e + 4 <= $list->[1]; ) { my ($el, $et) = unpack("SS", substr($b, $e, 4)); exit 7 if $el < 4 || $e + $el > $list->[1];',
  '     if (($et & 0x3fff) == 1) { my $x = attrs($b, $e + 4, $e + $el); exit 7 if !defined($x->{1});',
  '      my $ms = defined($x->{5}) && $x->{5}[1] - $x->{5}[0] == 8 ? unpack("Q>", substr($b, $x->{5}[0], 8)) : "-";',
  '      print "$set\\t", value($b, $x->{1}), "\\t", value($b, $x->{2}), "\\t$ms\\n" }',
  '     $e += ($el + 3) & ~3 } }',
  '   $o += ($len + 3) & ~3 } } }',
  'print "done\\n";',
].join('\n');

/** How many times a dump the kernel marks interrupted is asked again before the caller falls back to nft. */
const TRIES = 3;

// The elements of `sets` in `table`, by set name (none for a set that is not there), or null when they cannot be read
// this way (see above).
export async function readSetElements(
  host: Host,
  table: TableRef,
  sets: readonly string[],
): Promise<Map<string, KernelElement[]> | null> {
  for (let i = 0; i < TRIES; i++) {
    let r;
    try {
      r = await host.exec.run(host.perl, [
        '-e',
        SET_ELEMENTS_PROGRAM,
        String(NFPROTO[table.family]),
        table.name,
        ...sets,
      ]);
    } catch {
      return null;
    }
    if (r.exitCode === 6) continue;
    return r.exitCode === 0 ? parseSetElements(r.stdout, sets) : null;
  }
  return null;
}

// The program's output (see SET_ELEMENTS_PROGRAM) by set; null unless it ends with `done` and every other line is
// one of `sets`, hex key, hex data or `-`, and milliseconds or `-`.
export function parseSetElements(text: string, sets: readonly string[]): Map<string, KernelElement[]> | null {
  const out = new Map<string, KernelElement[]>(sets.map((s) => [s, []]));
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.pop() !== 'done') return null;
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
