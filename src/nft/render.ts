import type { Atom, Chain, Element, Expr, Hook, Rule, SetDecl, Stmt, Table, Verdict } from './ast.js';
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

const atom = (a: Atom): string => {
  switch (a.kind) {
    case 'addr':
      return a.address.text;
    case 'proto':
      return a.proto;
    case 'range':
      return a.first === a.last ? String(a.first) : `${a.first}-${a.last}`;
  }
};

const elementKey = (el: Element): string => el.key.map(atom).join(' . ');

const element = (el: Element): string => {
  const key = elementKey(el);
  if (el.value === undefined) return key;
  const value = Array.isArray(el.value)
    ? (el.value as readonly Atom[]).map(atom).join(' . ')
    : verdict(el.value as Verdict);
  return `${key} : ${value}`;
};

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
export function renderSet(s: SetDecl, indent = '\t'): string[] {
  const i2 = `${indent}\t`;
  const type =
    s.key.join(' . ') + (s.value === undefined ? '' : ` : ${s.value === 'verdict' ? 'verdict' : s.value.join(' . ')}`);
  const out = [`${indent}${s.kind} ${s.name} {`, `${i2}type ${type}`];
  if (s.interval) out.push(`${i2}flags interval`);
  if (s.elements.length > 0) {
    out.push(`${i2}elements = {`);
    const last = s.elements.length - 1;
    s.elements.forEach((el, n) => out.push(`${i2}\t${element(el)}${n === last ? '' : ','}`));
    out.push(`${i2}}`);
  }
  out.push(`${indent}}`);
  return out;
}

// Renders a chain: hook line first for base chains, then one rule per line (nft 1.0.6 needs a newline before `}`).
export function renderChain(c: Chain, indent = '\t'): string[] {
  const i2 = `${indent}\t`;
  const out = [`${indent}chain ${c.name} {`];
  if (c.hook) out.push(`${i2}${hook(c.hook)}`);
  for (const r of c.rules) out.push(`${i2}${rule(r)}`);
  out.push(`${indent}}`);
  return out;
}

// The body lines of a table (everything between its braces but the comment), in a fixed order.
export function renderTableBody(t: Table): string[] {
  const out: string[] = [];
  // Appended line by line: push(...lines) passes every line as an argument and overflows the stack at ~50k services.
  const append = (lines: readonly string[]): void => {
    for (const line of lines) out.push(line);
    out.push('');
  };
  for (const s of t.sets) append(renderSet(s));
  for (const c of t.chains) append(renderChain(c));
  if (out[out.length - 1] === '') out.pop();
  return out;
}

// The table block with its comment line, around a body already joined (renderTableBody(t).join('\n')).
export function renderTable(t: Table, body: string): string {
  return `table inet ${t.name} {\n\tcomment ${quote(t.comment)}\n\n${body}\n}`;
}

// One element as nft writes it inside `{ }` (for `add element` / `delete element` in incremental updates).
export function renderElement(el: Element): string {
  return element(el);
}

// The key of one element as nft writes it (for `delete element`, and to pair old and new elements).
export function renderElementKey(el: Element): string {
  return elementKey(el);
}

// One rule as nft writes it after `add rule <table> <chain>` (for incremental updates).
export function renderRule(r: Rule): string {
  return rule(r);
}
