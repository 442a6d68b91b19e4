import type { Chain, Element, Expr, Hook, Rule, SetView, Stmt, TableRef, TableView, Verdict } from './ast.js';
import { quote, type Ident } from './names.js';

// Renders nft AST nodes as nft 1.0.6 script text. Input is assumed valid (built by build.ts from a validated plan).

const expr = (e: Expr): string => {
  switch (e.kind) {
    case 'field':
      return e.field;
    case 'symbol':
      return e.value;
    case 'number':
      return String(e.value);
    case 'concat':
      return e.parts.map((x) => (x.kind === 'and' ? `(${expr(x)})` : expr(x))).join(' . ');
    case 'anon-set':
      return `{ ${e.items.map(expr).join(', ')} }`;
    case 'set-ref':
      return `@${e.name}`;
    case 'numgen':
      return `numgen ${e.mode} mod ${e.mod}${offset(e.offset)}`;
    case 'jhash':
      return `jhash ${expr(e.input)} mod ${e.mod} seed ${hex(e.seed)}${offset(e.offset)}`;
    case 'symhash':
      return `symhash mod ${e.mod}${offset(e.offset)}`;
    case 'map-lookup':
      return `${expr(e.key)} map @${e.map}`;
    case 'hex':
      return `0x${e.value.toString(16).padStart(8, '0')}`;
    case 'prefix-mask':
      return prefixMask(e.family, e.length);
    case 'hex-mask': {
      let digits = '';
      for (let i = 0; i < e.bits; i += 4)
        digits += (0xf ^ (2 ** (4 - Math.max(0, Math.min(4, e.length - i))) - 1)).toString(16);
      return `0x${digits}`;
    }
    case 'raw-nh':
      return `@nh,${e.offset},${e.length}`;
    case 'and':
      return `${expr(e.left)} & ${expr(e.right)}`;
    case 'shift-right':
      return `${expr(e.left)} >> ${e.bits}`;
    case 'address':
      return e.text;
    case 'range':
      return e.first === e.last ? String(e.first) : `${e.first}-${e.last}`;
  }
};

// The mask of a prefix length as nft reads an address: dotted quad, or IPv6 groups with the zero tail compressed.
function prefixMask(family: 4 | 6, length: number): string {
  const bits = family === 4 ? 32 : 128;
  const groups = family === 4 ? 4 : 8;
  const width = bits / groups;
  const parts: number[] = [];
  for (let i = 0; i < groups; i++) {
    const on = Math.max(0, Math.min(width, length - i * width));
    parts.push(on === 0 ? 0 : ((2 ** width - 1) ^ (2 ** (width - on) - 1)) >>> 0);
  }
  if (family === 4) return parts.join('.');
  const used = parts.findIndex((x) => x === 0);
  const head = (used < 0 ? parts : parts.slice(0, used)).map((x) => x.toString(16));
  return used < 0 ? head.join(':') : `${head.join(':')}::`;
}

const offset = (n: number): string => (n === 0 ? '' : ` offset ${n}`);
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

const verdict = (v: Verdict): string => (v.kind === 'goto' || v.kind === 'jump' ? `${v.kind} ${v.chain}` : v.kind);

const stmt = (s: Stmt): string => {
  switch (s.kind) {
    case 'match':
      return `${expr(s.left)} ${expr(s.right)}`;
    case 'counter':
      return 'counter';
    case 'ct-mark-set':
      return `ct mark set ${expr(s.value)}`;
    case 'meta-mark-set':
      return `meta mark set ${expr(s.value)}`;
    case 'fwd':
      return `fwd ${s.family === 4 ? 'ip' : 'ip6'} to ${expr(s.to)} device ${quote(s.device)}`;
    case 'vmap':
      return `${expr(s.key)} vmap @${s.map}`;
    case 'nat':
      return `${s.type} ${s.family === 4 ? 'ip' : 'ip6'} to ${expr(s.to)}`;
    case 'masquerade':
      return 'masquerade';
    case 'reject':
      return s.with === 'tcp reset' ? 'reject with tcp reset' : 'reject';
    case 'limit-over':
      return `limit rate over ${s.perSecond}/second burst ${s.burst} packets`;
    case 'ct-count-over':
      return `ct count over ${s.over}`;
    case 'set-update': {
      const timeout = s.timeout === undefined ? '' : ` timeout ${duration(s.timeout)}`;
      return `${s.op} @${s.set} { ${expr(s.key)}${timeout} : ${expr(s.value)} }`;
    }
    case 'limit-over-per':
      return `limit rate over ${s.rate}/${s.unit} burst ${s.burst} packets`;
    case 'log':
      return s.to.kind === 'kernel'
        ? `log prefix ${quote(s.prefix)} level ${s.to.level}`
        : `log prefix ${quote(s.prefix)} group ${s.to.group}`;
    case 'nftrace':
      return 'meta nftrace set 1';
    case 'verdict':
      return verdict(s.verdict);
  }
};

const rule = (r: Rule): string => r.stmts.map(stmt).join(' ');

// A map or set element from key and value text (see Element).
export function element(key: string, value?: string): Element {
  return value === undefined ? { key } : { key, value };
}

/** A verdict as nft writes it (the value of a verdict-map element). */
export const renderVerdict = verdict;

const hook = (h: Hook): string => {
  const device = h.device === undefined ? '' : ` device ${quote(h.device)}`;
  const prio =
    typeof h.priority === 'number'
      ? String(h.priority + h.priorityOffset)
      : h.priorityOffset === 0
        ? h.priority
        : `${h.priority} ${h.priorityOffset < 0 ? '-' : '+'} ${Math.abs(h.priorityOffset)}`;
  return `type ${h.type} hook ${h.hook}${device} priority ${prio}; policy ${h.policy};`;
};

// Collects many small strings into a few large ones: every 4096 pieces are joined into one chunk, so the pieces die
// young (cheap for the GC) instead of living until one final join of half a million lines.
class TextChunks {
  private readonly chunks: string[] = [];
  private pieces: string[] = [];

  add(piece: string): void {
    this.pieces.push(piece);
    if (this.pieces.length === 4096) this.flush();
  }

  /** The chunks completed so far, taken out (the pieces of the one being filled stay). */
  drain(): string[] {
    return this.chunks.splice(0);
  }

  /** The collected text as chunks of about 4096 pieces each. */
  parts(): string[] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.pieces.length > 0) this.chunks.push(this.pieces.join(''));
    this.pieces = [];
  }
}

// The type of a set or map as nft writes it after `type`: `ipv4_addr . inet_service`, `mark : verdict`.
export function setType(s: Pick<SetView, 'key' | 'value' | 'typeof'>): string {
  if (s.typeof !== undefined) return `${s.typeof.key.map(expr).join(' . ')} : ${expr(s.typeof.value)}`;
  return (
    s.key.join(' . ') + (s.value === undefined ? '' : ` : ${s.value === 'verdict' ? 'verdict' : s.value.join(' . ')}`)
  );
}

// The lines of a set or map declaration before its elements, each ending in `end` (a newline and indent in a table
// block, `; ` in a one-line command): type, size, flags, default timeout, in the order nft lists them.
export function setProperties(s: Omit<SetView, 'elements' | 'name' | 'kind'>, end: string, withSize = true): string {
  let out = `${s.typeof === undefined ? 'type' : 'typeof'} ${setType(s)}${end}`;
  if (withSize && s.size !== undefined) out += `size ${s.size}${end}`;
  if (s.flags.length > 0) out += `flags ${s.flags.join(',')}${end}`;
  if (s.timeout !== undefined) out += `timeout ${duration(s.timeout)}${end}`;
  return out;
}

// Seconds as nft writes a duration; whole seconds only (nftlb's timeouts are configured in seconds).
export const duration = (seconds: number): string => `${seconds}s`;

const setHeader = (s: SetView, indent: string): string => {
  const i2 = `${indent}\t`;
  return `${indent}${s.kind} ${s.name} {\n${i2}${setProperties(s, `\n${i2}`).slice(0, -i2.length)}`;
};

/** Receives each object of a table body as it is rendered, in body order: a set or map as its declaration, its header
 *  as rendered (`setHeader`: kind, name and properties) and its elements' text (and, for a map, their keys: what
 *  `delete element` names), a chain as its text. What apply keeps of a loaded table to change it later by a delta
 *  (src/nft/image.ts). */
export interface BodySink {
  set(s: SetView, head: string, elements: string[], keys: string[] | undefined): void;
  chain(name: Ident, hook: string | undefined, text: string): void;
}

// Writes a set or map declaration; elements one per line so a diff of two scripts reads like a diff of configs.
function writeSet(out: TextChunks, s: SetView, indent: string, sink: BodySink | undefined): void {
  const i3 = `${indent}\t\t`;
  const head = setHeader(s, indent);
  out.add(head);
  const texts: string[] | undefined = sink === undefined ? undefined : [];
  const keys: string[] | undefined = sink === undefined || s.kind === 'set' ? undefined : [];
  // One template per line (measured faster than pushing its four pieces: the chunk arrays stay short).
  const next = `,\n${i3}`;
  let sep = `${indent}\telements = {\n${i3}`;
  let any = false;
  for (const el of s.elements) {
    const text = renderElement(el);
    out.add(`${sep}${text}`);
    texts?.push(text);
    keys?.push(el.key);
    sep = next;
    any = true;
  }
  if (any) out.add(`\n${indent}\t}\n`);
  out.add(`${indent}}`);
  sink?.set(s, head, texts!, keys);
}

// Renders a chain: hook line first for base chains, then one rule per line (nft 1.0.6 needs a newline before `}`).
export function renderChain(c: Chain, indent = '\t'): string {
  const i2 = `${indent}\t`;
  let out = `${indent}chain ${c.name} {\n`;
  if (c.hook) out += `${i2}${hook(c.hook)}\n`;
  if (c.comment !== undefined) out += `${i2}comment ${quote(c.comment)}\n`;
  for (const r of c.rules) out += `${i2}${rule(r)}\n`;
  return `${out}${indent}}`;
}

// The body of a table (everything between its braces but the comment), sets then chains with a blank line between two
// of them, as chunks whose concatenation is the body: the script is joined once, with its head, from these.
export function renderTableBodyChunks(t: TableView): string[] {
  return [...tableBodyChunks(t)];
}

// The same chunks, each yielded once it is rendered (after each set or chain that completes one): apply writes them to
// nft while it renders the rest, so nft parses the script as it is made.
// With a sink, each object goes to it too (see BodySink).
export function* tableBodyChunks(t: TableView, sink?: BodySink): Generator<string, void, undefined> {
  const out = new TextChunks();
  let first = true;
  const gap = (): void => {
    if (!first) out.add('\n\n');
    first = false;
  };
  for (const s of t.sets) {
    gap();
    writeSet(out, s, '\t', sink);
    yield* out.drain();
  }
  for (const c of t.chains) {
    gap();
    const text = renderChain(c);
    out.add(text);
    sink?.chain(c.name, c.hook === undefined ? undefined : hook(c.hook), text);
    yield* out.drain();
  }
  yield* out.parts();
}

// The opening of a table block without its comment (a streamed script writes the comment last: it carries the
// fingerprint of the body, known only once the body is rendered).
export function renderTableOpen(t: TableRef): string {
  return `table ${t.family} ${t.name} {\n`;
}

// The end of a table block: its comment (nft takes a table's comment anywhere in its block) and the closing brace.
export function renderTableClose(comment: string): string {
  return `\n\n\tcomment ${quote(comment)}\n}\n`;
}

// The opening of a table block with its comment line; the body (renderTableBodyChunks) and `\n}` follow.
export function renderTableHead(t: TableView): string {
  return `table ${t.family} ${t.name} {\n\tcomment ${quote(t.comment)}\n\n`;
}

// One rule as nft writes it after `add rule <table> <chain>` (for incremental updates).
export function renderRule(r: Rule): string {
  return rule(r);
}

// One element as nft writes it inside `{ }`: `key`, `key : value`, with `timeout`/`expires` after the key.
export function renderElement(el: Element): string {
  let key = el.key;
  if (el.timeout !== undefined) key += ` timeout ${duration(el.timeout)}`;
  if (el.expires !== undefined) key += ` expires ${duration(el.expires)}`;
  return el.value === undefined ? key : `${key} : ${el.value}`;
}

// The key of one element as nft writes it (for `delete element`, and to pair old and new elements).
export function renderElementKey(el: Element): string {
  return el.key;
}
