import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node } from 'yaml';
import type { Diagnostic } from '../common/diagnostic.js';

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
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const diagnostics: Diagnostic[] = [];
  let value: unknown;

  if (format === 'json') {
    // JSON.parse reports no position on Node 20; jsonc-parser (strict options) places the first syntax error.
    const errors: ParseError[] = [];
    parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
    const first = errors[0];
    if (first !== undefined) {
      diagnostics.push({
        path: '',
        line: lines.linePos(first.offset).line,
        code: 'parse.json',
        message: `invalid JSON at column ${lines.linePos(first.offset).col}: ${printParseErrorCode(first.error).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()}`,
        severity: 'error',
      });
    } else {
      value = JSON.parse(text);
    }
    for (const e of doc.errors) {
      if (e.code === 'DUPLICATE_KEY') diagnostics.push(yamlDiagnostic(e, lines, 'parse.duplicate-key'));
    }
  } else {
    for (const e of doc.errors) diagnostics.push(yamlDiagnostic(e, lines, e.code === 'DUPLICATE_KEY' ? 'parse.duplicate-key' : 'parse.yaml'));
    if (doc.errors.length === 0) value = doc.toJS({ maxAliasCount: 100 });
  }
  if (diagnostics.length > 0) value = undefined;

  return {
    file,
    format,
    value,
    diagnostics,
    locate(pointer: string): number | undefined {
      const node = nodeAt(doc.contents as Node | null, pointer);
      const offset = node?.range?.[0];
      return offset === undefined ? undefined : lines.linePos(offset).line;
    },
  };
}

function yamlDiagnostic(
  e: { message: string; pos: [number, number] },
  lines: LineCounter,
  code: string,
): Diagnostic {
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
