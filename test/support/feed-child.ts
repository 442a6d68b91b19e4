// Run by test/system/executor.test.ts as a process of its own, which the test kills: feeds perl (which writes its pid to
// `pidFile`, then reads its input to the end and writes how much it read to `seen`) one piece, then blocks node for up
// to a minute before the next.
import { systemExecutor } from '../../src/system/executor.js';

const [pidFile, seen] = process.argv.slice(2);
const program = [
  '-e',
  'open my $p, ">", $ARGV[2] or die; print $p $$; close $p; open my $f, "<", $ARGV[0] or die; local $/; ' +
    'my $x = <$f>; open my $o, ">", $ARGV[1] or die; print $o length $x',
];
function* pieces(): Generator<string> {
  yield 'first piece\n';
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  yield 'second piece\n';
}
await systemExecutor().feed!('perl', (input) => [...program, input, seen!, pidFile!], pieces());
