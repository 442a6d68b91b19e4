#!/usr/bin/env node
// The entry of the bundle (dist/nftlb.mjs, the installed /usr/lib/nftlb/nftlb.mjs). esbuild keeps this hashbang at the
// top of the entry only: the chunks it imports are modules, not scripts, and are installed without the execute bit.
import { holdSignals } from './early-signals.js';
import { EXIT } from './exit-codes.js';

// health --watch: its signals are held from here on (src/cli/early-signals.ts).
if (process.argv[2] === 'health' && process.argv.includes('--watch')) holdSignals();

// A reader that closes the pipe early (`nftlb render | head`) ends nftlb quietly, with the status a program killed by
// SIGPIPE has (Node ignores the signal and reports EPIPE instead); stderr too may be gone, so nothing is printed. Any
// other failure to write stdout (a full disk: `nftlb render > file`, an I/O error) is the host's: exit 13, said on
// stderr. One of stderr only loses the messages: the command goes on (an apply is not cut short while it loads) and its
// exit status says how it ended.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.brokenPipe);
    if (stream === process.stderr) return;
    try {
      process.stderr.write(`nftlb: cannot write to stdout: ${e.code ?? e.message}\n`);
    } catch {
      // stderr cannot take it either: the exit status says it.
    }
    process.exit(EXIT.hostFault);
  });
}

// The nftlb executable: run the command, then exit with its code once stdout and stderr have taken what was written.
// `nftlb apply` first asks its no-op record (src/cli/fast-apply.ts); the rest of nftlb is loaded only when that does
// not settle it. `self` runs this same nftlb again (health's /metrics asks `nftlb status` in a child process).
const argv = process.argv.slice(2);
const fast = argv[0] === 'apply' ? await (await import('./fast-apply.js')).fastApply(argv.slice(1), process.env) : null;
if (typeof fast === 'number') exitFlushed(fast);
else {
  const [{ run }, { processIo }] = await Promise.all([import('./program.js'), import('./io.js')]);
  const self = [process.execPath, process.argv[1]!];
  exitFlushed(await run(argv, processIo, process.env, self, fast?.miss));
}

// process.exit rather than the end of the event loop: a natural exit first frees the whole heap, ~20 ms after a
// 10k-service apply or a 50k-service render. A command has awaited all of its own work (its programs, its files) by
// the time it returns its code. A stream still holding writes (a pipe whose reader is slow) is given an empty write,
// whose callback runs once those are done; one that holds none is not written to at all (an empty write to a full
// file system still fails).
function exitFlushed(code: number): void {
  process.exitCode = code;
  const streams = [process.stdout, process.stderr];
  // A stream that failed: its error listener has decided how nftlb exits, or left it to the end of the event loop.
  if (streams.some((s) => s.destroyed || s.errored !== null)) return;
  const pending = streams.filter((s) => s.writableLength > 0);
  let waiting = pending.length;
  if (waiting === 0) process.exit(code);
  // A write that failed is left to the stream's error listener above (EPIPE: the status of SIGPIPE).
  const done = (e?: Error | null): void => {
    if (e == null && --waiting === 0) process.exit(code);
  };
  for (const s of pending) s.write('', done);
}
