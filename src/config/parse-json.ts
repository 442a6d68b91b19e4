import { parse as parseJsonc, printParseErrorCode, visit, type ParseError } from 'jsonc-parser';
import type { Diagnostic } from '../common/diagnostic.js';
import { escapeSegment, lineIndex, pointerSegments } from './lines.js';
import { MAX_NESTING } from './limits.js';
import { duplicateKey, emptyDocument, tooDeep, type ParsedText } from './parsed.js';

// Reads JSON text (strict: no comments, no trailing commas). The value comes from JSON.parse (native, and iterative:
// no nesting overflows it); the nesting limit and duplicate keys are checked on it; lines come from jsonc-parser's
// scanner, which streams over the text with memory for the open objects only, never a tree of the whole document.
export function parseJson(raw: string): ParsedText {
  // A byte order mark (Notepad and other editors write one) is read as the blank it stands for (RFC 8259 lets a
  // parser ignore it): one character for one, so every offset, line and column stays the file's.
  const text = raw.charCodeAt(0) === 0xfeff ? ` ${raw.slice(1)}` : raw;
  const lineOf = lineIndex(text);
  const locate = (pointers: readonly string[]): (number | undefined)[] => locateJson(text, pointers);
  if (text.trim() === '') return { value: undefined, diagnostics: [emptyDocument('JSON')], locate };
  let value: unknown;
  let parsed = true;
  try {
    value = JSON.parse(text);
  } catch {
    parsed = false;
  }
  if (parsed) {
    const keys = value !== null && typeof value === 'object' ? keysIn(value, 0) : 0;
    if (keys < 0) return { value: undefined, diagnostics: [tooDeepAt(text, lineOf)], locate };
    // Every key token is followed by a colon outside strings, so the colons of the whole text bound the key tokens
    // from above: when that bound equals the keys of the value there is no duplicate, and the exact scan is not needed
    // (it costs ~50 ms at 50k services; colons inside strings, as in IPv6 addresses, make the bound miss).
    if (colons(text) === keys || keyTokens(text) === keys) return { value, diagnostics: [], locate };
    return { value: undefined, diagnostics: duplicateKeys(text), locate };
  }
  // Not JSON: the nesting is checked on the text first, so that jsonc-parser (recursive) never sees a deep document.
  if (deepOffset(text) >= 0) return { value: undefined, diagnostics: [tooDeepAt(text, lineOf)], locate };
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true, allowEmptyContent: false });
  const diagnostics: Diagnostic[] = [];
  const first = errors[0];
  if (first !== undefined) {
    const col = first.offset - text.lastIndexOf('\n', first.offset - 1);
    const what = printParseErrorCode(first.error)
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toLowerCase();
    diagnostics.push({
      path: '',
      line: lineOf(first.offset),
      code: 'parse.json',
      message: `invalid JSON at column ${col}: ${what}`,
      severity: 'error',
    });
  }
  diagnostics.push(...duplicateKeys(text));
  return { value: undefined, diagnostics, locate };
}

// The keys of every object in a parsed JSON value, or -1 when some value sits inside more than MAX_NESTING arrays and
// objects. Recursive, but never deeper than the limit. Index loops and no call for a scalar: 600k keys at 50k services,
// counted once per process before the JIT has optimized this.
function keysIn(v: object, level: number): number {
  let n = 0;
  if (Array.isArray(v)) {
    if (v.length > 0 && level >= MAX_NESTING) return -1;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x !== null && typeof x === 'object') {
        const k = keysIn(x, level + 1);
        if (k < 0) return -1;
        n += k;
      }
    }
    return n;
  }
  for (const k in v) {
    if (level >= MAX_NESTING) return -1;
    n++;
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object') {
      const c = keysIn(x, level + 1);
      if (c < 0) return -1;
      n += c;
    }
  }
  return n;
}

// The offset of the first value that sits inside more than MAX_NESTING arrays and objects, or -1. A scan of the text
// (strings skipped; a string also ends at a line break, as jsonc-parser reads it), so it works on text that is not JSON.
function deepOffset(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34 || d === 10 || d === 13) break;
      }
      if (depth > MAX_NESTING) return i;
    } else if (c === 91 || c === 123) {
      if (depth > MAX_NESTING) return i;
      depth++;
    } else if (c === 93 || c === 125) {
      if (depth > 0) depth--;
    } else if (depth > MAX_NESTING && c !== 32 && c !== 10 && c !== 13 && c !== 9 && c !== 44 && c !== 58) {
      return i;
    }
  }
  return -1;
}

function tooDeepAt(text: string, lineOf: (offset: number) => number): Diagnostic {
  const at = deepOffset(text);
  return tooDeep(at < 0 ? 1 : lineOf(at));
}

// Every key that repeats in its object, on its line, with the object's path (JSON.parse keeps the last one silently).
function duplicateKeys(text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Per open object: the line of each of its keys.
  const open: Map<string, number>[] = [];
  visit(
    text,
    {
      onObjectBegin: () => void open.push(new Map()),
      onObjectEnd: () => void open.pop(),
      onObjectProperty: (key, _offset, _length, startLine, _startCharacter, pathSupplier) => {
        const keys = open[open.length - 1];
        if (keys === undefined) return;
        const first = keys.get(key);
        if (first !== undefined) {
          // The path of the object: pathSupplier() is built only here, for a key given twice.
          const path = pathSupplier()
            .map((seg) => `/${escapeSegment(String(seg))}`)
            .join('');
          out.push(duplicateKey(path, key, startLine + 1, first));
        } else keys.set(key, startLine + 1);
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return out;
}

// A node of the pointers being looked for: the line of the value found there, and the pointers that go on below it.
interface Wanted {
  line: number | undefined;
  readonly below: Map<string, Wanted>;
}

// The lines of the values at some JSON pointers (each: the value, or its closest existing parent), in one streaming
// pass over the text that follows only the paths asked for.
function locateJson(text: string, pointers: readonly string[]): (number | undefined)[] {
  const root: Wanted = { line: undefined, below: new Map() };
  for (const p of pointers) {
    let node = root;
    for (const seg of pointerSegments(p)) {
      let next = node.below.get(seg);
      if (next === undefined) node.below.set(seg, (next = { line: undefined, below: new Map() }));
      node = next;
    }
  }
  // One frame per open array or object: the wanted node it is (undefined: nothing wanted below), the key of the value
  // that comes next (objects), the index of the next item (arrays).
  const frames: { node: Wanted | undefined; key: string; index: number }[] = [];
  let rootSeen = false;
  const enter = (line: number): Wanted | undefined => {
    const top = frames[frames.length - 1];
    let node: Wanted | undefined;
    if (top === undefined) node = rootSeen ? undefined : root;
    else if (top.node !== undefined) node = top.node.below.get(top.index < 0 ? top.key : String(top.index));
    if (top !== undefined && top.index >= 0) top.index++;
    rootSeen = true;
    if (node !== undefined) node.line = line + 1;
    return node;
  };
  visit(
    text,
    {
      onObjectBegin: (_o, _l, line) => void frames.push({ node: enter(line), key: '', index: -1 }),
      onObjectProperty: (key) => {
        const top = frames[frames.length - 1];
        if (top !== undefined) top.key = key;
      },
      onObjectEnd: () => void frames.pop(),
      onArrayBegin: (_o, _l, line) => void frames.push({ node: enter(line), key: '', index: 0 }),
      onArrayEnd: () => void frames.pop(),
      onLiteralValue: (_v, _o, _l, line) => void enter(line),
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return pointers.map((p) => {
    let node = root;
    let line = root.line;
    for (const seg of pointerSegments(p)) {
      const next = node.below.get(seg);
      if (next?.line === undefined) break;
      node = next;
      line = next.line;
    }
    return line;
  });
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
