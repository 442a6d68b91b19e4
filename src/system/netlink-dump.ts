import type { TableRef } from '../nft/ast.js';
import type { Host } from './host.js';

// Dumps of nf_tables objects over netlink, through perl (as the ruleset generation is read: src/system/genid.ts; Node
// has no netlink socket, and perl-base is Essential on Debian). A program is this prelude and what it prints of each
// reply message; the output is read only when perl exits 0 and the last line is `done`. What the exit codes say:
// 2 no netlink socket, 3 the request not sent, 4 the reply not read, 5 a netlink error (printed as `error ERRNO`),
// 6 a message marked NLM_F_DUMP_INTR (the ruleset changed during the dump: asked again), 7 a reply that cannot be read.
// Any failure is null to the caller, which then lists with nft instead.

/** nf_tables' family numbers (NFPROTO_*) of the families nftlb's tables use. */
export const NFPROTO = { inet: 1, ip: 2, ip6: 10, netdev: 5 } as const;

/** The perl prelude: `attr(type, value)` packs a netlink attribute; `nl_dump(msg type, family, attributes, each)`
 *  sends one NFT_MSG_GET* dump request (NLM_F_REQUEST | NLM_F_DUMP) and calls `each(buffer, start, end)` with the
 *  attributes of every reply message (after its nlmsghdr and nfgenmsg); it returns 1 at the dump's end, 0 when the
 *  object asked for is not there (ENOENT), and exits as said above otherwise. */
export const NETLINK_DUMP_PRELUDE = [
  // AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER as numbers, without the Socket module (see src/system/genid.ts).
  'socket(my $s, 16, 3, 12) or exit 2;',
  'my $seq = 0;',
  'sub attr { my ($t, $v) = @_; my $l = 4 + length($v); pack("SS", $l, $t) . $v . ("\\0" x ((4 - $l % 4) % 4)) }',
  'sub nl_dump { my ($type, $family, $attrs, $each) = @_; $seq++;',
  ' my $body = pack("CCn", $family, 0, 0) . $attrs;',
  ' send($s, pack("LSSLL", 16 + length($body), (10 << 8) | $type, 0x301, $seq, 0) . $body, 0, pack("SSLL", 16, 0, 0, 0)) or exit 3;',
  ' while (1) {',
  '  defined(recv($s, my $b, 1 << 20, 0)) or exit 4; exit 4 if length($b) == 0;',
  '  for (my $o = 0; $o + 16 <= length($b); ) {',
  '   my ($len, $mtype, $flags) = unpack("LSS", substr($b, $o, 8)); exit 7 if $len < 16 || $o + $len > length($b);',
  '   return 1 if $mtype == 3;',
  '   if ($mtype == 2) { my $err = -unpack("l", substr($b, $o + 16, 4)); return 0 if $err == 2; print "error $err\\n"; exit 5 }',
  '   exit 6 if $flags & 0x10;',
  '   $each->($b, $o + 20, $o + $len);',
  '   $o += ($len + 3) & ~3 } } }',
].join('\n');

/** How many times a dump the kernel marks interrupted is asked again before the caller falls back to nft. */
const TRIES = 3;

// Runs a dump program (NETLINK_DUMP_PRELUDE and its own part) for `table` with `args` after the family and the table
// name; `parse` reads the lines it printed before `done`. Null for any failure (see above).
export async function runDump<T>(
  host: Host,
  program: string,
  table: TableRef,
  args: readonly string[],
  parse: (lines: readonly string[]) => T | null,
): Promise<T | null> {
  for (let i = 0; i < TRIES; i++) {
    let r;
    try {
      r = await host.exec.run(host.perl, ['-e', program, String(NFPROTO[table.family]), table.name, ...args]);
    } catch {
      return null;
    }
    if (r.exitCode === 6) continue;
    return r.exitCode === 0 ? parseDump(r.stdout, parse) : null;
  }
  return null;
}

// A dump program's output: its lines before the final `done` (and line feed) to `parse`; null without them.
export function parseDump<T>(text: string, parse: (lines: readonly string[]) => T | null): T | null {
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.pop() !== 'done') return null;
  return parse(lines);
}
