import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { NftlbError } from '../common/errors.js';

/** Largest CA file an https check may name: a bundle of every public CA is about 0.2 MiB. */
export const MAX_CA_BYTES = 1 << 20;

// Reads the PEM file an https health check names as its `ca`. Like the config, only a regular file of bounded size is
// read (a FIFO or a device is refused at once, without waiting for a writer), and a failure is a config-read error
// (exit 4) naming the file: the config points at something that is not there.
export async function readCaFile(file: string): Promise<string> {
  const fail = (why: string, cause?: unknown): NftlbError =>
    new NftlbError('config-read', `cannot read CA file ${file}: ${why}`, { cause });
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    throw fail((cause as NodeJS.ErrnoException).code ?? String(cause), cause);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fail('not a regular file');
    if (st.size > MAX_CA_BYTES) throw fail(`it is ${st.size} bytes; a CA file may be at most ${MAX_CA_BYTES} bytes`);
    const buf = Buffer.alloc(MAX_CA_BYTES + 1);
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_CA_BYTES) throw fail(`it grew past ${MAX_CA_BYTES} bytes while it was read`);
    }
    return buf.subarray(0, total).toString('utf8');
  } catch (cause) {
    if (cause instanceof NftlbError) throw cause;
    throw fail((cause as NodeJS.ErrnoException).code ?? String(cause), cause);
  } finally {
    await fh.close();
  }
}
