import { EXIT } from './exit-codes.js';

// A reader that closes the pipe early (`nftlb render | head`) ends nftlb quietly, with the status a program killed by
// SIGPIPE has (Node ignores the signal and reports EPIPE instead); stderr too may be gone, so nothing is printed.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.brokenPipe);
    throw e;
  });
}

// The nftlb executable: run the command, then exit with its code once stdout has drained. `nftlb apply` first asks its
// no-op record (src/cli/fast-apply.ts); the rest of nftlb is loaded only when that does not settle it. `self` runs this
// same nftlb again (health's /metrics asks `nftlb status` in a child process).
const argv = process.argv.slice(2);
const fast = argv[0] === 'apply' ? await (await import('./fast-apply.js')).fastApply(argv.slice(1), process.env) : null;
if (typeof fast === 'number') process.exitCode = fast;
else {
  const [{ run }, { processIo }] = await Promise.all([import('./program.js'), import('./io.js')]);
  const self = [process.execPath, process.argv[1]!];
  process.exitCode = await run(argv, processIo, process.env, self, fast?.miss);
}
