import { createHash } from 'node:crypto';

// The default hash seed of a service, derived from its name: stable across reloads and across balancer nodes that share
// the config (a kernel-chosen seed would differ on each node and after each reload).
export function seedFromName(name: string): number {
  return createHash('sha256').update(`nftlb-seed:${name}`).digest().readUInt32BE(0);
}
