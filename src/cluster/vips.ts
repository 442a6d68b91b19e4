import type { Address, Model } from '../model/types.js';

// Every VIP of the config once, IPv4 first, each family in address order: the order of the engines' configurations.
export function clusterVips(model: Model): Address[] {
  const seen = new Map<string, Address>();
  for (const s of model.services) for (const v of s.vips) seen.set(v.text, v);
  return [...seen.values()].sort((a, b) => a.family - b.family || compareAddress(a, b));
}

// Numeric order of two addresses of one family (text order would put 203.0.113.10 before 203.0.113.9).
function compareAddress(a: Address, b: Address): number {
  const key = (x: Address): string =>
    x.family === 4
      ? x.text
          .split('.')
          .map((o) => o.padStart(3, '0'))
          .join('.')
      : x.text;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
