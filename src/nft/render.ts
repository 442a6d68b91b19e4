import type { Chain, Element, Expr, Hook, Rule, SetDecl, Stmt, Table, Verdict } from './ast.js';
import { quote } from './names.js';

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
      return e.parts.map(expr).join(' . ');
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
  }
};

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
    case 'verdict':
      return verdict(s.verdict);
  }
};

const rule = (r: Rule): string => r.stmts.map(stmt).join(' ');

// A map or set element from key and value text (see Element).
export function element(key: string, value?: string): Element {
  return { key, text: value === undefined ? key : `${key} : ${value}` };
}

// A number or an inclusive range as nft writes it: 80, 8000-8010 (ports, slots, backend ids).
export const rangeText = (first: number, last: number = first): string =>
  first === last ? String(first) : `${first}-${last}`;

/** A verdict as nft writes it (the value of a verdict-map element). */
export const renderVerdict = verdict;

const hook = (h: Hook): string => {
  const prio =
    typeof h.priority === 'number'
      ? String(h.priority + h.priorityOffset)
      : h.priorityOffset === 0
        ? h.priority
        : `${h.priority} ${h.priorityOffset < 0 ? '-' : '+'} ${Math.abs(h.priorityOffset)}`;
  return `type ${h.type} hook ${h.hook} priority ${prio}; policy ${h.policy};`;
};

// Renders a set or map declaration; elements one per line so a diff of two scripts reads like a diff of configs.
export function renderSet(s: SetDecl, indent = '\t'): string {
  const i2 = `${indent}\t`;
  const type =
    s.key.join(' . ') + (s.value === undefined ? '' : ` : ${s.value === 'verdict' ? 'verdict' : s.value.join(' . ')}`);
  let out = `${indent}${s.kind} ${s.name} {\n${i2}type ${type}\n`;
  if (s.interval) out += `${i2}flags interval\n`;
  if (s.elements.length > 0) {
    // One join per set: no string per line beyond the element text itself (250k elements at 50k services).
    const texts = s.elements.map((el) => el.text);
    out += `${i2}elements = {\n${i2}\t${texts.join(`,\n${i2}\t`)}\n${i2}}\n`;
  }
  return `${out}${indent}}`;
}

// Renders a chain: hook line first for base chains, then one rule per line (nft 1.0.6 needs a newline before `}`).
export function renderChain(c: Chain, indent = '\t'): string {
  const i2 = `${indent}\t`;
  let out = `${indent}chain ${c.name} {\n`;
  if (c.hook) out += `${i2}${hook(c.hook)}\n`;
  for (const r of c.rules) out += `${i2}${rule(r)}\n`;
  return `${out}${indent}}`;
}

// The body of a table (everything between its braces but the comment) as one text, sets then chains, a blank line
// between two of them.
export function renderTableBody(t: Table): string {
  const parts: string[] = [];
  for (const s of t.sets) parts.push(renderSet(s));
  for (const c of t.chains) parts.push(renderChain(c));
  return parts.join('\n\n');
}

// The table block with its comment line, around its body (renderTableBody(t)).
export function renderTable(t: Table, body: string): string {
  return `table inet ${t.name} {\n\tcomment ${quote(t.comment)}\n\n${body}\n}`;
}

// One rule as nft writes it after `add rule <table> <chain>` (for incremental updates).
export function renderRule(r: Rule): string {
  return rule(r);
}

// One element as nft writes it inside `{ }` (for `add element` in incremental updates).
export function renderElement(el: Element): string {
  return el.text;
}

// The key of one element as nft writes it (for `delete element`, and to pair old and new elements).
export function renderElementKey(el: Element): string {
  return el.key;
}
