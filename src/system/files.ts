import { readFile } from 'node:fs/promises';
import { hostFault } from './host-fault.js';

// A small text file nftlb keeps (state, records): its content, or null when it does not exist. Any other failure is a
// host-fault error naming the path (a state directory that is a file, permissions, I/O).
export async function readStateFile(file: string, what: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostFault(`read ${what}`, file, e);
  }
}
