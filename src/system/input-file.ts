import { createReadStream, fstatSync } from 'node:fs';
import { NftlbError } from '../common/errors.js';

/** The largest input `nftlb import iptables` reads, per file (iptables-save of a million rules is about 100 MB). */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024;

// Reads one input, at most MAX_IMPORT_BYTES of it (/dev/zero or a runaway pipe end in exit 4, not in a full memory).
export async function readImportInput(file: string): Promise<string> {
  const name = file === '-' ? '<stdin>' : file;
  try {
    // Node reads a directory given as stdin as empty input: it would import as an empty config.
    if (file === '-' && fstatSync(0).isDirectory())
      throw new NftlbError('config-read', `cannot read ${name}: it is a directory`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of file === '-' ? process.stdin : createReadStream(file)) {
      size += (c as Buffer).length;
      if (size > MAX_IMPORT_BYTES)
        throw new NftlbError(
          'config-read',
          `${name} is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB, the most nftlb import reads`,
        );
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (cause) {
    if (cause instanceof NftlbError) throw cause;
    throw new NftlbError(
      'config-read',
      `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
}
