import jsyaml from 'js-yaml';
import {
  LineCounter,
  parseDocument,
  isAlias,
  isMap,
  isNode,
  isSeq,
  isPair,
  isScalar,
  visit,
  type Document,
  type Node,
} from 'yaml';
import type { Diagnostic } from '../common/diagnostic.js';
import { escapeSegment, lineIndex, pointerSegments } from './lines.js';
import { FULL_YAML_ERRORS_BYTES, MAX_ALIAS_EXPANSION, MAX_NESTING } from './limits.js';
import { duplicateKey, emptyDocument, tooDeep, type ParsedText } from './parsed.js';
import { YAML_CORE_SCHEMA } from './yaml-core.js';

// js-yaml refuses a node more than maxDepth - 1 of its own levels deep, before it recurses any deeper. Its levels are
// not quite the document's: a node in block context is first tried as a mapping key, one more level. A document
// within MAX_NESTING + 1 of them is within the limit; one that js-yaml refuses there is read again with room for
// twice as many, and its nesting checked on the value.
const LOAD_OPTIONS = { schema: YAML_CORE_SCHEMA, maxDepth: MAX_NESTING + 1 } as jsyaml.LoadOptions;
const DEEP_LOAD_OPTIONS = { schema: YAML_CORE_SCHEMA, maxDepth: 2 * MAX_NESTING + 2 } as jsyaml.LoadOptions;

// Reads YAML 1.2 text. js-yaml reads it (about 15x faster than the `yaml` parser's document model, and with a bound on
// nesting); the `yaml` parser is used only where js-yaml cannot answer: text with a %-directive (its directives are
// checked: %YAML 1.1 would change how scalars read) and, for text up to FULL_YAML_ERRORS_BYTES, syntax errors (it
// reports all of them, js-yaml the first). Both paths bound aliases alike (aliasProblem).
export function parseYaml(text: string): ParsedText {
  const lineOf = lineIndex(text);
  const locate = (pointers: readonly string[]): (number | undefined)[] => locateYaml(text, lineOf, pointers);
  const directive = /^%/m.exec(text);
  if (directive !== null) {
    if (text.length <= FULL_YAML_ERRORS_BYTES && nestingBound(text) <= 4 * MAX_NESTING) return slowYaml(text);
    const message = `a %-directive is read only in configs up to ${FULL_YAML_ERRORS_BYTES / 1048576} MiB; remove it`;
    return { value: undefined, diagnostics: [yamlError(lineOf(directive.index), 'parse.yaml', message)], locate };
  }
  let value: unknown;
  try {
    value = load(text);
  } catch (e) {
    if (!(e instanceof jsyaml.YAMLException)) throw e;
    const line = (e.mark?.line ?? 0) + 1;
    if (e instanceof TooDeep) {
      const at = e.pointer === undefined ? undefined : locate([e.pointer])[0];
      return { value: undefined, diagnostics: [tooDeep(at ?? line)], locate };
    }
    if (text.length <= FULL_YAML_ERRORS_BYTES && nestingBound(text) <= 4 * MAX_NESTING) return slowYaml(text);
    const d = /duplicated mapping key/.test(e.reason)
      ? (firstDuplicate(text, lineOf) ?? yamlError(line, 'parse.duplicate-key', 'a key is given twice in a mapping'))
      : /expected a single document/.test(e.reason)
        ? secondDocument(secondDocumentLine(text, lineOf))
        : yamlError(line, 'parse.yaml', e.reason);
    return { value: undefined, diagnostics: [d], locate };
  }
  if (value === undefined || (value === null && blank(text)))
    return { value: undefined, diagnostics: [emptyDocument('YAML')], locate };
  // An alias is written with '*': without one in the text no node can be shared.
  const shared = text.includes('*') ? aliasProblem(value) : undefined;
  if (shared !== undefined) return { value: undefined, diagnostics: [shared], locate };
  return { value, diagnostics: [], locate };
}

// A document nested deeper than MAX_NESTING: where js-yaml stopped, and the first value too deep when it is known.
class TooDeep extends jsyaml.YAMLException {
  constructor(
    cause: jsyaml.YAMLException,
    readonly pointer?: string,
  ) {
    super(cause.reason, cause.mark);
  }
}

// js-yaml's reading, with the nesting limit exact (see LOAD_OPTIONS).
function load(text: string): unknown {
  try {
    return jsyaml.load(text, LOAD_OPTIONS);
  } catch (e) {
    if (!(e instanceof jsyaml.YAMLException) || !/maxDepth/.test(e.reason)) throw e;
    let value: unknown;
    try {
      value = jsyaml.load(text, DEEP_LOAD_OPTIONS);
    } catch (deeper) {
      if (deeper instanceof jsyaml.YAMLException && /maxDepth/.test(deeper.reason)) throw new TooDeep(e);
      throw deeper;
    }
    const pointer = tooDeepPointer(value, '', 0);
    if (pointer !== undefined) throw new TooDeep(e, pointer);
    return value;
  }
}

// The JSON pointer of the first value inside more than MAX_NESTING lists and mappings, if any.
function tooDeepPointer(v: unknown, path: string, level: number): string | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  for (const k of Object.keys(v)) {
    const p = `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (level >= MAX_NESTING) return p;
    const deeper = tooDeepPointer((v as Record<string, unknown>)[k], p, level + 1);
    if (deeper !== undefined) return deeper;
  }
  return undefined;
}

function yamlError(line: number, code: string, message: string): Diagnostic {
  return { path: '', line, code, message, severity: 'error' };
}

// The diagnostic of a second YAML document in the file, on the line where it starts.
function secondDocument(line: number): Diagnostic {
  const message = `a config is one YAML document, and a second one starts on line ${line}; remove it, or give each config a file of its own`;
  return yamlError(line, 'parse.multiple-documents', message);
}

// The line where a second document starts in text js-yaml found several in (js-yaml says not where): its "---" line,
// or its first node after a "..." that ended the first. js-yaml reads the text again; its listener hears each node
// open with the documents read so far.
function secondDocumentLine(text: string, lineOf: (o: number) => number): number {
  let first: number | undefined;
  let second: number | undefined;
  const listener = (event: 'open' | 'close', state: { position: number }): void => {
    if (event !== 'open') return;
    // The documents read so far: js-yaml's state has them, its typings do not.
    const read = (state as unknown as { documents: unknown[] }).documents.length;
    if (read === 0) first ??= state.position;
    else if (read === 1) second ??= state.position;
  };
  try {
    jsyaml.loadAll(text, undefined, { ...DEEP_LOAD_OPTIONS, listener } as jsyaml.LoadOptions);
  } catch {
    // An error in a later document: where the second one starts is known by then.
  }
  if (second === undefined) return 1;
  // A "---" at the start of a line after the first document's node, before the second's, is the second's marker.
  const marker = text.lastIndexOf('\n---', second - 1) + 1;
  return lineOf(marker > (first ?? 0) ? marker : contentStart(text, second));
}

// True when the text holds no node: only blank lines, comments and document markers.
function blank(text: string): boolean {
  return text.split('\n').every((l) => /^\s*(#.*)?$/.test(l) || /^(---|\.\.\.)\s*(#.*)?$/.test(l));
}

// An upper bound of the nesting of YAML text: the deepest indentation plus block indicators on one line, plus the
// deepest flow brackets. Keeps deep text from the `yaml` parser, whose document model recurses.
function nestingBound(text: string): number {
  let lines = 0;
  for (const l of text.split('\n')) {
    const indent = l.length - l.trimStart().length;
    const indicators = (l.match(/(?:^|\s)[-?:](?=\s|$)/g) ?? []).length;
    lines = Math.max(lines, indent + indicators);
  }
  let flow = 0;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) flow = Math.max(flow, ++depth);
    else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return lines + flow;
}

// Collections that aliases share: refused when one contains itself, when the document they expand to would hold more
// than MAX_ALIAS_EXPANSION values beyond those written, or nest deeper than MAX_NESTING once expanded.
function aliasProblem(root: unknown): Diagnostic | undefined {
  // Per collection: values in its expansion (itself included) and its height; -1 while it is being walked.
  const size = new Map<object, number>();
  const height = new Map<object, number>();
  let written = 0;
  const stack: { v: object; done: boolean }[] = [];
  if (root !== null && typeof root === 'object') stack.push({ v: root, done: false });
  while (stack.length > 0) {
    const top = stack.pop()!;
    const kids = Object.values(top.v) as unknown[];
    if (top.done) {
      let s = 1;
      let h = 0;
      for (const k of kids) {
        if (k === null || typeof k !== 'object') s++;
        else {
          s += size.get(k)!;
          h = Math.max(h, height.get(k)! + 1);
        }
      }
      size.set(top.v, s);
      height.set(top.v, h);
      if (s - written > MAX_ALIAS_EXPANSION)
        return yamlError(1, 'parse.alias', `aliases expand the document by more than ${MAX_ALIAS_EXPANSION} values`);
      continue;
    }
    const seen = size.get(top.v);
    if (seen === -1) return yamlError(1, 'parse.alias', 'an alias refers to a collection that contains it');
    if (seen !== undefined) continue;
    size.set(top.v, -1);
    written++;
    stack.push({ v: top.v, done: true });
    for (const k of kids) {
      if (k === null || typeof k !== 'object') written++;
      else if (size.get(k) === -1)
        return yamlError(1, 'parse.alias', 'an alias refers to a collection that contains it');
      else if (!size.has(k)) stack.push({ v: k, done: false });
    }
  }
  if (root !== null && typeof root === 'object' && height.get(root)! > MAX_NESTING) return tooDeep(1);
  return undefined;
}

// The first key given twice, in text js-yaml refused for it that the `yaml` parser does not read: js-yaml reads it
// again, keeping the later value (json: true), with a listener that sees the keys of each mapping as it closes; the
// mapping's JSON pointer is then found in the value. Undefined when the keys cannot be matched to the events.
function firstDuplicate(text: string, lineOf: (o: number) => number): Diagnostic | undefined {
  const frames: { start: number; starts: number[]; results: unknown[] }[] = [];
  let found: { map: object; key: string; at: number; first: number } | undefined;
  const listener = (event: 'open' | 'close', state: { position: number; result: unknown; kind: string }): void => {
    if (event === 'open') {
      frames.push({ start: state.position, starts: [], results: [] });
      return;
    }
    const f = frames.pop()!;
    const parent = frames[frames.length - 1];
    if (parent !== undefined) {
      parent.starts.push(f.start);
      parent.results.push(state.result);
    }
    const r = state.result;
    if (state.kind !== 'mapping' || r === null || typeof r !== 'object' || f.results.length % 2 !== 0) return;
    const seen = new Map<string, number>();
    let dup: { key: string; at: number; first: number } | undefined;
    for (let i = 0; i < f.results.length; i += 2) {
      const k = f.results[i];
      if (k !== null && typeof k === 'object') return;
      const key = String(k);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, f.starts[i]!);
      else dup ??= { key, at: f.starts[i]!, first };
    }
    // Every key the value holds was seen, and no other: the events are this mapping's pairs.
    if (dup === undefined || seen.size !== Object.keys(r).length) return;
    if (found === undefined || dup.at < found.at) found = { map: r, ...dup };
  };
  let root: unknown;
  try {
    root = jsyaml.load(text, { ...DEEP_LOAD_OPTIONS, json: true, listener } as jsyaml.LoadOptions);
  } catch {
    return undefined;
  }
  if (found === undefined) return undefined;
  const path = pointerOf(root, found.map);
  const line = (at: number): number => lineOf(contentStart(text, at));
  return path === undefined ? undefined : duplicateKey(path, found.key, line(found.at), line(found.first));
}

// The JSON pointer of a collection within a value, found by identity (a walk with its own stack, each collection once:
// aliases share them).
function pointerOf(root: unknown, target: object): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: root, path: '' }];
  const walked = new Set<unknown>();
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (v === target) return path;
    if (v === null || typeof v !== 'object' || walked.has(v)) continue;
    walked.add(v);
    for (const [k, c] of Object.entries(v))
      if (c !== null && typeof c === 'object') stack.push({ v: c, path: `${path}/${escapeSegment(k)}` });
  }
  return undefined;
}

// Where js-yaml found a collection: the offset where its node starts (before any blank or comment) and, when its
// children could be matched to the events of the parse, where each item (sequence) or value (mapping) starts.
interface Placed {
  readonly start: number;
  readonly kids?: readonly number[];
  readonly keys?: readonly string[];
}

// The lines of the nodes at some JSON pointers: the text is read again by js-yaml, whose listener reports where each
// node opens and what it closes as; collections are matched by identity with the value of that read.
function locateYaml(text: string, lineOf: (o: number) => number, pointers: readonly string[]): (number | undefined)[] {
  const placed = new Map<object, Placed>();
  const frames: { start: number; kids: number[]; results: unknown[] }[] = [];
  const listener = (event: 'open' | 'close', state: { position: number; result: unknown; kind: string }): void => {
    if (event === 'open') {
      frames.push({ start: state.position, kids: [], results: [] });
      return;
    }
    const f = frames.pop()!;
    const r = state.result;
    // A flow collection read while js-yaml tries it as a mapping key closes twice: the inner close has its items.
    if (r !== null && typeof r === 'object' && !placed.has(r)) {
      if (state.kind === 'sequence' && Array.isArray(r) && f.kids.length === r.length) {
        placed.set(r, { start: f.start, kids: f.kids });
      } else if (state.kind === 'mapping' && f.kids.length === 2 * Object.keys(r).length) {
        const keys: string[] = [];
        const kids: number[] = [];
        for (let i = 0; i < f.kids.length; i += 2) {
          keys.push(String(f.results[i]));
          // An empty value is placed on its key.
          kids.push(f.kids[i + 1]! >= 0 ? f.kids[i + 1]! : f.kids[i]!);
        }
        placed.set(r, { start: f.start, kids, keys });
      } else {
        // A key without a value, a null item: the children cannot be matched, diagnostics stop at the collection.
        placed.set(r, { start: f.start });
      }
    }
    const parent = frames[frames.length - 1];
    if (parent !== undefined) {
      // An empty node (`key:` and nothing) starts nowhere: js-yaml sought past the line break, to the next key.
      const empty = r === null && contentStart(text, f.start) >= state.position;
      parent.kids.push(empty ? -1 : f.start);
      parent.results.push(r);
    }
  };
  let root: unknown;
  try {
    root = jsyaml.load(text, { ...DEEP_LOAD_OPTIONS, listener } as jsyaml.LoadOptions);
  } catch {
    return pointers.map(() => undefined);
  }
  const lineAt = (offset: number): number => lineOf(contentStart(text, offset));
  const keyIndex = new Map<Placed, Map<string, number>>();
  return pointers.map((p) => {
    let node = root;
    let at = node !== null && typeof node === 'object' ? placed.get(node) : undefined;
    let line = lineAt(at?.start ?? 0);
    for (const seg of pointerSegments(p)) {
      if (at?.kids === undefined) break;
      let i: number | undefined;
      if (at.keys === undefined) i = /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : undefined;
      else {
        let index = keyIndex.get(at);
        if (index === undefined) {
          index = new Map();
          for (let k = at.keys.length - 1; k >= 0; k--) index.set(at.keys[k]!, k);
          keyIndex.set(at, index);
        }
        i = index.get(seg);
      }
      if (i === undefined || i >= at.kids.length || at.kids[i]! < 0) break;
      line = lineAt(at.kids[i]!);
      node = (node as Record<string, unknown>)[seg];
      at = node !== null && typeof node === 'object' ? placed.get(node) : undefined;
      if (at === undefined) break;
    }
    return line;
  });
}

// The offset of the first character of a node that js-yaml opened at offset: past blanks, line breaks and comments.
function contentStart(text: string, offset: number): number {
  let i = offset;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) i++;
    else if (c === 35) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else break;
  }
  return i;
}

// The `yaml` parser's reading of small text: every syntax error and duplicate key on its line, aliases expanded under
// its own bound ("billion laughs"), and lines from its document model.
function slowYaml(text: string): ParsedText {
  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  } catch (e) {
    // The document model recurses: a stack overflow is a diagnostic too (nestingBound should keep it from happening).
    if (!(e instanceof RangeError)) throw e;
    return { value: undefined, diagnostics: [tooDeep(1)], locate: (ps) => ps.map(() => undefined) };
  }
  // Keys given twice are named from the document model. The parser's own errors say only "Map keys must be unique",
  // sometimes on the line before the key, and are found by the walk too: the parser compares scalar keys by value
  // (the walk by the value's string), other keys by identity.
  const duplicates = duplicatesIn(doc.contents, lines);
  const diagnostics: Diagnostic[] = [];
  for (const e of doc.errors) {
    const line = lines.linePos(e.pos[0]).line;
    if (e.code === 'MULTIPLE_DOCS') diagnostics.push(secondDocument(line));
    else if (e.code !== 'DUPLICATE_KEY')
      diagnostics.push(yamlError(line, 'parse.yaml', e.message.split('\n')[0] ?? e.message));
    else if (duplicates.size === 0) diagnostics.push(yamlError(line, 'parse.duplicate-key', e.message));
  }
  for (const d of duplicates.values()) diagnostics.push(d);
  diagnostics.sort((a, b) => a.line! - b.line!);
  // The yaml parser reads a document under %YAML 1.1 by the 1.1 rules (0100 is 64, 1:20 is 80, yes is true): nftlb's
  // configs are YAML 1.2 whatever path reads them. (It reads other versions as 1.2, as the spec asks.)
  const version = doc.directives.yaml;
  if (version.explicit === true && version.version !== '1.2') {
    const at = /^%YAML\b/m.exec(text)?.index ?? 0;
    const message = `%YAML ${version.version}: nftlb reads a config as YAML 1.2 (core schema), where 0100, 1:20 and yes are not what YAML 1.1 makes of them; remove the directive`;
    diagnostics.unshift(yamlError(lines.linePos(at).line, 'parse.yaml-version', message));
  }
  let value: unknown;
  // Aliases become shared objects (maxAliasCount -1: no count of the yaml parser's own, whose limit of 100 alias
  // uses refused configs that aliasProblem takes), bounded then as on js-yaml's path.
  if (diagnostics.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: -1 });
    } catch (e) {
      // An alias whose anchor comes later, or none: the yaml parser throws it from toJS, not as a document error.
      if (!(e instanceof ReferenceError)) throw e;
      diagnostics.push(yamlError(unsetAliasLine(doc, lines), 'parse.alias', `cannot expand aliases: ${e.message}`));
    }
  }
  const shared = diagnostics.length === 0 && text.includes('*') ? aliasProblem(value) : undefined;
  if (shared !== undefined) diagnostics.push(shared);
  if (diagnostics.length === 0 && doc.contents === null) diagnostics.push(emptyDocument('YAML'));
  return {
    value: diagnostics.length === 0 ? value : undefined,
    diagnostics,
    locate: (pointers) =>
      pointers.map((p) => {
        const offset = nodeAt(doc.contents as Node | null, p)?.range?.[0];
        return offset === undefined ? undefined : lines.linePos(offset).line;
      }),
  };
}

// The line of the first alias whose anchor is not set before it (or line 1).
function unsetAliasLine(doc: Document.Parsed, lines: LineCounter): number {
  const anchors = new Set<string>();
  let line = 1;
  visit(doc, (_key, node) => {
    if (isAlias(node)) {
      if (anchors.has(node.source)) return undefined;
      line = lines.linePos(node.range?.[0] ?? 0).line;
      return visit.BREAK;
    }
    if (isNode(node) && node.anchor !== undefined) anchors.add(node.anchor);
    return undefined;
  });
  return line;
}

// The keys given twice in the mappings of a document model, by the line of the second: each names the key, its
// mapping's JSON pointer and the line of the first. Scalar keys are compared as the value reads them (1 and "1" are
// one key of the value, which only the later would keep).
function duplicatesIn(root: unknown, lines: LineCounter): Map<number, Diagnostic> {
  const out = new Map<number, Diagnostic>();
  const walk = (node: unknown, path: string): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        const line = lines.linePos(pair.key.range?.[0] ?? 0).line;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, line);
        else if (!out.has(line)) out.set(line, duplicateKey(path, key, line, first));
        walk(pair.value, `${path}/${escapeSegment(key)}`);
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) walk(node.items[i], `${path}/${i}`);
    }
  };
  walk(root, '');
  return out;
}

// Walks a YAML node tree along a JSON pointer; stops at the deepest node that exists.
function nodeAt(root: Node | null, pointer: string): Node | null {
  let node: Node | null = root;
  for (const seg of pointerSegments(pointer)) {
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
