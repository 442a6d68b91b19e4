import type { TableRef } from './ast.js';

// What nftlb reads of its tables before a load, for the price of the table list: `nft -t list chains F`, `list sets F`
// and `list maps F` print every table of family F with its chains (their hooks and comments, no rules) and its sets
// and maps (their declarations; -t leaves the elements out). nft 1.0.6 fetches only tables, chains and sets for them:
// 0.03-0.2 s at 10k-50k services, where `nft -t list table` fetches every rule too (about one nft -f of the table).
// That is enough to tell whether a table is there, whose it is (the fingerprint chain every script ends with), and what
// a reload that keeps the persistence entries must delete.

/** The listing script: the three lists for each family nftlb's tables are of, in one nft run (one cache fill). */
export function ownedListingScript(refs: readonly TableRef[]): string {
  const families = [...new Set(refs.map((r) => r.family))];
  return families.flatMap((f) => [`list chains ${f}`, `list sets ${f}`, `list maps ${f}`, '']).join('\n');
}

// The listing of each table in the output of ownedListingScript, keyed `family name`: the table's objects as
// `nft list table` prints them, without rules or elements, for fingerprintOfListing and liveObjects. A table is in the
// result whenever it exists (each list prints every table of its family, an empty one as `table F N {` `}`).
export function splitOwnedListing(text: string): Map<string, string> {
  const bodies = new Map<string, string[]>();
  let open: string[] | undefined;
  for (const line of text.split('\n')) {
    if (open === undefined) {
      const m = /^table (\S+) (\S+) \{$/.exec(line);
      if (m === null) continue;
      const key = `${m[1]} ${m[2]}`;
      open = bodies.get(key) ?? [];
      bodies.set(key, open);
    } else if (line === '}') open = undefined;
    else open.push(line);
  }
  const out = new Map<string, string>();
  for (const [key, lines] of bodies) out.set(key, `table ${key} {\n${lines.map((l) => `${l}\n`).join('')}}\n`);
  return out;
}
