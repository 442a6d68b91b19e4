import { processIo } from './io.js';
import { run } from './program.js';

// The nftlb executable: run the command, then exit with its code once stdout has drained.
const code = await run(process.argv.slice(2), processIo);
process.exitCode = code;
