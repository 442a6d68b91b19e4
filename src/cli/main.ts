import { EXIT } from './exit-codes.js';
import { processIo } from './io.js';
import { run } from './program.js';

// A reader that closes the pipe early (`nftlb render | head`) ends nftlb quietly, with the status a program killed by
// SIGPIPE has (Node ignores the signal and reports EPIPE instead); stderr too may be gone, so nothing is printed.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.brokenPipe);
    throw e;
  });
}

// The nftlb executable: run the command, then exit with its code once stdout has drained. `self` runs this same nftlb
// again (health's /metrics asks `nftlb status` in a child process).
const code = await run(process.argv.slice(2), processIo, process.env, [process.execPath, process.argv[1]!]);
process.exitCode = code;
