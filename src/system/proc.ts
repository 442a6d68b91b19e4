import { readFile } from 'node:fs/promises';

// Reads a file under /proc ("sys/net/ipv4/ip_forward"); null when it does not exist. Tests inject their own.
export type ProcReader = (path: string) => Promise<string | null>;

// The real reader: /proc of the network namespace nftlb runs in.
export const procReader: ProcReader = async (path) => {
  try {
    return (await readFile(`/proc/${path}`, 'utf8')).trim();
  } catch {
    return null;
  }
};
