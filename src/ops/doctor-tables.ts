import type { Model } from '../model/types.js';
import { fingerprintOfListing } from '../nft/script.js';
import { splitOwnedListing } from '../nft/owned-listing.js';
import { parseAddress } from '../model/address.js';
import type { Host } from '../system/host.js';
import { listOwnedFamilies } from '../system/owned-tables.js';
import { readLiveJson } from '../system/nft.js';
import { NAMES } from '../nft/build.js';
import { ident } from '../nft/names.js';
import type { Check } from './doctor.js';

// Other inet tables nftlb made: another config's, or this config's from before its `table` was renamed (apply never
// touches a table of another name, so the old one keeps balancing). Two tables that DNAT one VIP both see its new
// connections, and which one's rule decides depends on hook order: a warning names the VIPs they share.
export async function otherTablesCheck(host: Host, model: Model): Promise<Check> {
  const name = 'other nftlb tables';
  let listing: string;
  try {
    listing = await listOwnedFamilies(host);
  } catch (e) {
    return { name, level: 'warn', detail: `cannot list the tables: ${(e as Error).message}`, fix: 'check nft' };
  }
  const ours = new Set(model.services.flatMap((s) => s.vips.map((v) => v.text)));
  const others: { table: string; shared: string[] }[] = [];
  for (const [key, body] of splitOwnedListing(listing)) {
    const [family, table] = key.split(' ');
    if (family !== 'inet' || table === model.table || fingerprintOfListing(body) === null) continue;
    others.push({ table: table!, shared: [...(await vipsOf(host, table!))].filter((v) => ours.has(v)).sort() });
  }
  if (others.length === 0) return { name, level: 'ok', detail: 'none', fix: null };
  const shared = others.filter((o) => o.shared.length > 0);
  const names = others.map((o) => `inet ${o.table}`).join(', ');
  if (shared.length === 0) return { name, level: 'ok', detail: `${names}, with none of this config's VIPs`, fix: null };
  const first = shared[0]!;
  return {
    name,
    level: 'warn',
    detail: `table inet ${first.table} also balances ${first.shared.join(', ')}${shared.length > 1 ? ` (and ${shared.length - 1} more table(s))` : ''}: both tables DNAT the same connections`,
    fix: `if this config replaced it (a renamed table): nftlb remove --table ${first.table}`,
  };
}

// The VIPs a table of nftlb's balances: the first field of the elements of its listener maps (single ports and
// ranges, both families), from nft's JSON listing of each.
async function vipsOf(host: Host, table: string): Promise<Set<string>> {
  const out = new Set<string>();
  const ref = { family: 'inet' as const, name: ident(table) };
  for (const fam of [4, 6] as const)
    for (const name of [NAMES.services[fam], NAMES.serviceRanges[fam]]) {
      const items = await readLiveJson(host, ref, { kind: 'map', name }).catch(() => null);
      for (const item of items ?? []) {
        const elem = (item as { map?: { elem?: unknown[] } }).map?.elem ?? [];
        for (const e of elem) {
          const vip = (e as [{ concat?: unknown[] }] | undefined)?.[0]?.concat?.[0];
          const a = typeof vip === 'string' ? parseAddress(vip) : undefined;
          if (a !== undefined) out.add(a.text);
        }
      }
    }
  return out;
}
