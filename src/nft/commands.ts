import type { Chain, Element, Rule, SetDecl, TableRef, TableView } from './ast.js';
import type { Ident } from './names.js';
import {
  renderChain,
  renderElement,
  renderRule,
  renderTableBodyChunks,
  renderTableHead,
  setProperties,
} from './render.js';

// nft commands: what a script (or `nft` argv) asks of the kernel, as typed values. Every nft command nftlb sends is made
// here and rendered by renderCommands(), so no other folder writes nft syntax.

/** The verbs nftlb uses. `destroy` (delete if present) is nft 1.0.7; on 1.0.6 it is written as `add` of an empty
 *  object followed by `delete`, which never fails for a missing object and removes an existing one. */
export type Verb = 'add' | 'create' | 'flush' | 'delete' | 'destroy';

export type Command =
  /** A whole table in block form (declarations, elements, chains and rules): `table FAMILY NAME { ... }`. */
  | { readonly kind: 'table-block'; readonly table: TableView }
  /** `add table` (a no-op on an existing table; its comment and flags stay), `delete`, `destroy`, `flush` (rules only). */
  | { readonly kind: 'table'; readonly verb: Verb; readonly table: TableRef }
  /** A chain: `add` with its rules as a block (nft fetches only the table list for it, see delta.ts), or `create`,
   *  `flush` (its rules), `delete`, `destroy`. With `add`/`create` and no chain rules, an empty chain. */
  | {
      readonly kind: 'chain';
      readonly verb: Verb;
      readonly table: TableRef;
      readonly chain: Chain | { readonly name: Ident };
    }
  /** A set or map: `add` declares it (kept as is when it exists with the same type and flags; its size too, which is
   *  then left out) with `elements` added to it; `flush` empties it; `delete`/`destroy` remove it. */
  | {
      readonly kind: 'set';
      readonly verb: Verb;
      readonly table: TableRef;
      readonly set: SetDecl | Pick<SetDecl, 'kind' | 'name'>;
      /** With `add`: leave `size` out (an existing map keeps the size it was made with). */
      readonly withoutSize?: boolean;
    }
  /** Elements of a set or map: `add` (`key : value`, with timeout/expires), `delete` (by key). */
  | {
      readonly kind: 'elements';
      readonly verb: 'add' | 'delete';
      readonly table: TableRef;
      readonly set: Ident;
      readonly elements: readonly Element[];
    }
  /** One rule appended to a chain (`insert`: put first instead). */
  | {
      readonly kind: 'rule';
      readonly table: TableRef;
      readonly chain: Ident;
      readonly rule: Rule;
      readonly insert?: boolean;
    }
  /** The rule of a chain with this handle (from a listing with `-a`, or the echo of its `add`). */
  | { readonly kind: 'rule-delete'; readonly table: TableRef; readonly chain: Ident; readonly handle: number };

const ref = (t: TableRef): string => `${t.family} ${t.name}`;

const isDecl = (s: SetDecl | Pick<SetDecl, 'kind' | 'name'>): s is SetDecl => 'key' in s;
const hasRules = (c: Chain | { readonly name: Ident }): c is Chain => 'rules' in c;

// The text of one command, without a trailing newline (a block command spans several lines).
export function renderCommand(c: Command): string {
  switch (c.kind) {
    case 'table-block':
      return `${renderTableHead(c.table)}${renderTableBodyChunks(c.table).join('')}\n}`;
    case 'table':
      return c.verb === 'destroy'
        ? `table ${ref(c.table)} {}\ndelete table ${ref(c.table)}`
        : `${c.verb} table ${ref(c.table)}`;
    case 'chain': {
      const where = `${ref(c.table)} ${c.chain.name}`;
      if (c.verb === 'destroy') return `add chain ${where}\ndelete chain ${where}`;
      if ((c.verb === 'add' || c.verb === 'create') && hasRules(c.chain) && (c.chain.hook || c.chain.rules.length > 0))
        return `${c.verb} ${renderChain(c.chain, '').replace(/^chain /, `chain ${ref(c.table)} `)}`;
      return `${c.verb} chain ${where}`;
    }
    case 'set': {
      const where = `${ref(c.table)} ${c.set.name}`;
      // On one line every property ends in `;` (nft 1.0.6 refuses `{ type mark : mark }`), except before elements.
      if (c.verb === 'destroy') {
        if (!isDecl(c.set)) throw new Error(`destroy ${c.set.kind} ${c.set.name}: needs its declaration`);
        return `add ${c.set.kind} ${where} { ${setProperties(c.set, '; ', false)}}\ndelete ${c.set.kind} ${where}`;
      }
      if ((c.verb === 'add' || c.verb === 'create') && isDecl(c.set)) {
        const props = setProperties(c.set, '; ', c.withoutSize !== true);
        const els =
          c.set.elements.length === 0 ? '' : `elements = { ${c.set.elements.map(renderElement).join(', ')} } `;
        return `${c.verb} ${c.set.kind} ${where} { ${props}${els}}`;
      }
      return `${c.verb} ${c.set.kind} ${where}`;
    }
    case 'elements': {
      const items = c.verb === 'delete' ? c.elements.map((e) => e.key) : c.elements.map(renderElement);
      return `${c.verb} element ${ref(c.table)} ${c.set} { ${items.join(', ')} }`;
    }
    case 'rule':
      return `${c.insert === true ? 'insert' : 'add'} rule ${ref(c.table)} ${c.chain} ${renderRule(c.rule)}`;
    case 'rule-delete':
      return `delete rule ${ref(c.table)} ${c.chain} handle ${c.handle}`;
  }
}

// A script of commands, one per line (nft runs a file as one transaction: all of it or nothing).
export function renderCommands(cs: readonly Command[]): string {
  let out = '';
  for (const c of cs) out += `${renderCommand(c)}\n`;
  return out;
}

/** What an `nft list` should show: a whole table (or one of its sets or maps), terse (no set elements), or as JSON. */
export interface ListRequest {
  readonly table: TableRef;
  /** List only this set or map of the table. */
  readonly set?: Pick<SetDecl, 'kind' | 'name'>;
  /** Leave set and map elements out (`-t`): what nftlb reads to find a table's comment and chains. */
  readonly terse?: boolean;
  readonly json?: boolean;
  /** With each chain's and rule's handle (`-a`): what a rule is deleted by. */
  readonly handles?: boolean;
}

// The nft argv of a listing (nft takes these as arguments, not from a script).
export function listArgs(r: ListRequest): string[] {
  const what =
    r.set === undefined
      ? ['table', r.table.family, r.table.name]
      : [r.set.kind, r.table.family, r.table.name, r.set.name];
  return [...(r.json ? ['-j'] : []), ...(r.terse ? ['-t'] : []), ...(r.handles ? ['-a'] : []), 'list', ...what];
}

// A script as one line (`nft -i` reads one transaction per line): its lines joined with ` ; `, which nft takes between
// commands and between the rules of a block alike. Null when a line is a comment or the whole would be longer than
// maxLength (nft's line buffer is about 64 KiB; such a script goes to `nft -f`).
export function oneLine(script: string, maxLength = 32_768): string | null {
  const lines = script
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.some((l) => l.startsWith('#'))) return null;
  const line = lines.join(' ; ');
  return line.length > maxLength ? null : line;
}
