import { matchesAll, type ParsedFile, type ParsedRule, type Problem } from './parsed-rule.js';

// The rules of one file by table and chain, and what its lines that could not be read say about the rest: a chain
// holding such a line, or a listener matched by one, is known to be incomplete.

const key = (table: string, chain: string): string => `${table}:${chain}`;

// Where packets enter: the kernel's hooks, and nftlb's own entry chains, which its render says to hook in (a render
// imported as it is written has no jump to them).
const ENTRIES = new Set([
  'PREROUTING',
  'INPUT',
  'FORWARD',
  'OUTPUT',
  'POSTROUTING',
  'NFTLB-DISPATCH',
  'NFTLB-POST',
  'NFTLB-GUARD',
]);

// A jump that takes every packet into another chain, so the rules there see what the hook sees.
export function plainJump(r: ParsedRule): boolean {
  return matchesAll(r) && r.proto === undefined;
}

// Rules by chain and the unread lines by chain and by listener; built once per file, in one pass.
export class ChainIndex {
  private readonly byChain = new Map<string, ParsedRule[]>();
  private readonly unreadByChain = new Map<string, Problem>();
  private readonly unreadByListener = new Map<string, Problem>();
  private readonly hookedChains = new Set<string>();
  private readonly reachableChains = new Set<string>();

  constructor(readonly file: ParsedFile) {
    for (const r of file.rules) {
      const k = key(r.table, r.chain);
      const list = this.byChain.get(k);
      if (list === undefined) this.byChain.set(k, [r]);
      else list.push(r);
    }
    for (const p of file.problems) {
      if (p.chain !== undefined && !this.unreadByChain.has(p.chain)) this.unreadByChain.set(p.chain, p);
      if (p.listener !== undefined && !this.unreadByListener.has(p.listener)) this.unreadByListener.set(p.listener, p);
    }
    const entries = [...this.byChain.keys()].filter((k) => ENTRIES.has(k.slice(k.indexOf(':') + 1)));
    this.walk(entries, this.hookedChains, plainJump);
    this.walk(entries, this.reachableChains, () => true);
  }

  // Adds to `seen` the chains reached from `from` through the rules `follow` accepts.
  private walk(from: readonly string[], seen: Set<string>, follow: (r: ParsedRule) => boolean): void {
    const queue = [...from];
    for (const k of queue) seen.add(k);
    while (queue.length > 0)
      for (const r of this.byChain.get(queue.pop()!) ?? []) {
        const next = key(r.table, r.target);
        if (follow(r) && this.byChain.has(next) && !seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
  }

  // Whether every packet of a hook reaches this chain's rules through plain jumps (no condition on the way): only
  // there does a listener, a guard or a source NAT rule do what it says.
  hooked(table: string, chain: string): boolean {
    return this.hookedChains.has(key(table, chain));
  }

  // Whether a hook reaches this chain through any rule that was read (a listener's pool chain, a backend chain).
  reachable(table: string, chain: string): boolean {
    return this.reachableChains.has(key(table, chain));
  }

  // The rules of a chain, in file order (none when the file has no such chain).
  rules(table: string, chain: string): readonly ParsedRule[] {
    return this.byChain.get(key(table, chain)) ?? [];
  }

  // Whether the file has rules in this chain.
  has(table: string, chain: string): boolean {
    return this.byChain.has(key(table, chain));
  }

  // Whether the file declares this chain or has rules in it.
  exists(table: string, chain: string): boolean {
    return this.file.declared.has(key(table, chain)) || this.has(table, chain);
  }

  // Every chain with rules, as [table, chain, rules], in the order first seen.
  *chains(): Generator<[string, string, readonly ParsedRule[]]> {
    for (const rules of this.byChain.values()) yield [rules[0]!.table, rules[0]!.chain, rules];
  }

  // The first line of this chain that could not be read.
  unreadIn(table: string, chain: string): Problem | undefined {
    return this.unreadByChain.get(key(table, chain));
  }

  // The first line that could not be read and matches this listener.
  unreadFor(listener: string): Problem | undefined {
    return this.unreadByListener.get(listener);
  }
}
