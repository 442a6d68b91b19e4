import type { ParsedFile, ParsedRule, Problem } from './parsed-rule.js';

// The rules of one file by table and chain, and what its lines that could not be read say about the rest: a chain
// holding such a line, or a listener matched by one, is known to be incomplete.

const key = (table: string, chain: string): string => `${table}:${chain}`;

// Rules by chain and the unread lines by chain and by listener; built once per file, in one pass.
export class ChainIndex {
  private readonly byChain = new Map<string, ParsedRule[]>();
  private readonly unreadByChain = new Map<string, Problem>();
  private readonly unreadByListener = new Map<string, Problem>();

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
