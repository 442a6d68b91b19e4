import jsyaml from 'js-yaml';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../common/diagnostic.js';
import { YAML_CORE_SCHEMA } from './yaml-core.js';

// A config document as read from disk: its value, and a way back from a JSON pointer to a line of the file.
export interface LoadedDocument {
  readonly file: string;
  readonly format: 'yaml' | 'json';
  /** The parsed value; undefined when the text could not be parsed at all. */
  readonly value: unknown;
  /** Parse errors and warnings (duplicate keys, bad syntax), already placed on lines. */
  readonly diagnostics: readonly Diagnostic[];
  /** 1-based line of the node at a JSON pointer, or of its closest existing parent. */
  locate(pointer: string): number | undefined;
}

// Parses config text: `.json` files as JSON (strict), everything else as YAML 1.2; keeps line numbers for diagnostics.
export function parseConfigText(file: string, text: string): LoadedDocument {
  const format = file.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
  const lines = new LineCounter();
  // JSON is YAML 1.2 flow syntax, so the YAML parser also gives positions for JSON files; the value comes from JSON.parse.
  // For JSON that parses without duplicate keys the YAML document is built only when a diagnostic needs a line: it costs
  // ~10x JSON.parse (seconds and gigabytes at 50k services).
  let yamlDoc: Document.Parsed | undefined;
  const docOf = (): Document.Parsed =>
    (yamlDoc ??= parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true }));
  const diagnostics: Diagnostic[] = [];
  let value: unknown;

  const fast = format === 'json' ? fastJson(text) : fastYaml(text);
  if (fast !== undefined) {
    value = fast.value;
  } else if (format === 'json') {
    const doc = docOf();
    // JSON.parse reports no position on Node 20; jsonc-parser (strict options) places the first syntax error.
    const errors: ParseError[] = [];
    parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    const first = errors[0];
    if (first !== undefined) {
      diagnostics.push({
        path: '',
        line: lines.linePos(first.offset).line,
        code: 'parse.json',
        message: `invalid JSON at column ${lines.linePos(first.offset).col}: ${printParseErrorCode(first.error)
          .replace(/([a-z])([A-Z])/g, '$1 $2')
          .toLowerCase()}`,
        severity: 'error',
      });
    } else {
      value = JSON.parse(text);
    }
    for (const e of doc.errors) {
      if (e.code === 'DUPLICATE_KEY') diagnostics.push(yamlDiagnostic(e, lines, 'parse.duplicate-key'));
    }
  } else {
    // Text the fast path declined (a syntax error, a duplicate key, aliases, a directive): the `yaml` parser reports
    // it on its line, or reads it if it is valid after all.
    const doc = docOf();
    for (const e of doc.errors)
      diagnostics.push(yamlDiagnostic(e, lines, e.code === 'DUPLICATE_KEY' ? 'parse.duplicate-key' : 'parse.yaml'));
    if (doc.errors.length === 0) {
      try {
        value = doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        // The yaml parser refuses to expand aliases past maxAliasCount ("billion laughs"); a diagnostic, not a crash.
        const message = `cannot expand aliases: ${(e as Error).message}`;
        diagnostics.push({ path: '', line: 1, code: 'parse.yaml', message, severity: 'error' });
      }
    }
  }
  if (diagnostics.length > 0) value = undefined;

  return {
    file,
    format,
    value,
    diagnostics,
    locate(pointer: string): number | undefined {
      const node = nodeAt(docOf().contents as Node | null, pointer);
      const offset = node?.range?.[0];
      return offset === undefined ? undefined : lines.linePos(offset).line;
    },
  };
}

// JSON that JSON.parse accepts and that has no duplicate key (every key token of the text is a key of the value), or
// undefined when the slow path must report a syntax error or a duplicate key with its line.
function fastJson(text: string): { value: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  // Every key token is followed by a colon outside strings, so the colons of the whole text bound the key tokens from
  // above: when that bound equals the keys of the value there is no duplicate, and the exact scan is not needed (it
  // costs ~50 ms at 50k services; colons inside strings, as in IPv6 addresses, make the bound miss and the scan run).
  const keys = value !== null && typeof value === 'object' ? keysIn(value) : 0;
  return colons(text) === keys || keyTokens(text) === keys ? { value } : undefined;
}

// YAML read by js-yaml (YAML 1.2 core schema), about 15x faster than the `yaml` parser's document model (0.5 s instead
// of 8 s for 50k services), or undefined to leave the text to the `yaml` parser: when js-yaml throws (syntax error,
// duplicate key), when the document is empty, when it has a directive (%YAML 1.1 would change how scalars read), or
// when aliases make it share nodes (the `yaml` parser bounds alias expansion against "billion laughs").
function fastYaml(text: string): { value: unknown } | undefined {
  if (/^%/m.test(text)) return undefined;
  let value: unknown;
  try {
    value = jsyaml.load(text, { schema: YAML_CORE_SCHEMA });
  } catch {
    return undefined;
  }
  // An alias is written with '*': without one in the text no node can be shared, and the walk (a Set of every object,
  // ~300k at 50k services) is skipped.
  return value === undefined || (text.includes('*') && sharesNodes(value)) ? undefined : { value };
}

// True when some object or array is reachable twice (a YAML alias of a collection).
function sharesNodes(root: unknown): boolean {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (seen.has(v)) return true;
    seen.add(v);
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else for (const k in v) stack.push((v as Record<string, unknown>)[k]);
  }
  return false;
}

// Counts the colons of a text (indexOf runs natively, far faster than a loop over characters).
function colons(text: string): number {
  let n = 0;
  for (let i = text.indexOf(':'); i !== -1; i = text.indexOf(':', i + 1)) n++;
  return n;
}

// Counts the object keys written in JSON text: strings followed by a colon.
function keyTokens(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 34) continue;
    for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
    let j = i + 1;
    while (
      j < text.length &&
      (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 10 || text.charCodeAt(j) === 13 || text.charCodeAt(j) === 9)
    )
      j++;
    if (text.charCodeAt(j) === 58) n++;
  }
  return n;
}

// Counts the keys of every object in a parsed JSON value. Index loops and no call for a scalar: 600k keys at 50k
// services, counted once per process before the JIT has optimized this (8 ms instead of 13).
function keysIn(v: object): number {
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x !== null && typeof x === 'object') n += keysIn(x);
    }
    return n;
  }
  for (const k in v) {
    n++;
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object') n += keysIn(x);
  }
  return n;
}

function yamlDiagnostic(e: { message: string; pos: [number, number] }, lines: LineCounter, code: string): Diagnostic {
  const message = e.message.split('\n')[0] ?? e.message;
  return { path: '', line: lines.linePos(e.pos[0]).line, code, message, severity: 'error' };
}

// Walks a YAML node tree along a JSON pointer; stops at the deepest node that exists.
function nodeAt(root: Node | null, pointer: string): Node | null {
  let node: Node | null = root;
  if (pointer === '') return node;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    let next: Node | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (pair) next = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node)) {
      next = (node.items[Number(seg)] as Node | undefined) ?? null;
    }
    if (next === null) return node;
    node = next;
  }
  return node;
}
