import { createHash } from 'node:crypto';
import type { Model } from '../model/types.js';

// The fingerprint of a whole config (services and cluster section alike, not the health verdicts): two nodes that show
// the same one run the same config. Shown by `nftlb status` and written into the engines' configurations.
export function configFingerprint(model: Model): string {
  return createHash('sha256').update('nftlb-config\n').update(JSON.stringify(model)).digest('hex').slice(0, 16);
}
