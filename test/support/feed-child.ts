// Run by test/system/executor.test.ts as a process of its own, which the test kills while it writes a program's input:
// perl writes its pid to `pidFile`, waits (up to a minute) for the file `go`, then reads its input to the end and
// writes how much it read to `seen`. `feed`: one piece is fed, then node blocks for up to a minute before the next;
// `run`: 4 MiB of input (more than a pipe holds) through run(); `interact`: a session given half a line.
import { systemExecutor } from '../../src/system/executor.js';

const [mode, pidFile, go, seen] = process.argv.slice(2);
const program = [
  '-e',
  // The pid file appears whole (written aside, then renamed): read half written, it would say 0, and a kill of
  // pid 0 is a kill of the test's whole process group.
  'open my $p, ">", "$ARGV[1].tmp" or die; print $p $$; close $p; rename "$ARGV[1].tmp", $ARGV[1] or die; ' +
    'for (1 .. 6000) { last if -e $ARGV[2]; ' +
    'select undef, undef, undef, 0.01 } my $f = \\*STDIN; $ARGV[0] eq "-" or open $f, "<", $ARGV[0] or die; ' +
    'local $/; my $x = <$f>; ' +
    'open my $o, ">", $ARGV[3] or die; print $o length $x',
];
function* pieces(): Generator<string> {
  yield 'first piece\n';
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  yield 'second piece\n';
}
const exec = systemExecutor();
if (mode === 'feed') await exec.feed!('perl', (input) => [...program, input, pidFile!, go!, seen!], pieces());
else if (mode === 'run') await exec.run('perl', [...program, '-', pidFile!, go!, seen!], 'x'.repeat(4 << 20));
else {
  // A session's last line, cut short: node dies before it writes the rest.
  const session = await exec.interact!('perl', [...program, '-', pidFile!, go!, seen!], () => undefined);
  session.write('add element inet nftlb m { 1 }; add');
  setTimeout(() => undefined, 60_000);
}
