import type { Diagnostic } from '../common/diagnostic.js';
import type { DecodedConfig } from './decode.js';
import { parseJson } from './parse-json.js';
import { parseYaml } from './parse-yaml.js';

// A config document as read from disk: its value, and a way back from JSON pointers to lines of the file.
export interface LoadedDocument {
  readonly file: string;
  readonly format: 'yaml' | 'json';
  /** The parsed value; undefined when the text could not be parsed at all. */
  readonly value: unknown;
  /** Parse errors (bad syntax, duplicate keys, nesting, an empty file), already placed on lines. */
  readonly diagnostics: readonly Diagnostic[];
  /** 1-based lines of the nodes at some JSON pointers (each: the node, or its closest existing parent). One pass over
   *  the text for all of them; no tree of the whole document is built. */
  locate(pointers: readonly string[]): (number | undefined)[];
}

// Parses config text, or a file's decoded bytes (decodeConfig): `.json` files as JSON (strict), everything else as YAML
// 1.2; keeps line numbers for diagnostics.
export function parseConfigText(file: string, input: string | DecodedConfig): LoadedDocument {
  const format = file.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
  const decoded = typeof input === 'string' ? { text: input } : input;
  if ('problem' in decoded)
    return { file, format, value: undefined, diagnostics: [decoded.problem], locate: (ps) => ps.map(() => undefined) };
  const text = lfBreaks(decoded.text);
  const parsed = format === 'json' ? parseJson(text) : parseYaml(text);
  return {
    file,
    format,
    value: parsed.value,
    diagnostics: parsed.diagnostics,
    locate: (pointers) => parsed.locate(pointers),
  };
}

// A lone CR (old Mac OS line ends) is a line break to YAML and JSON alike, but the yaml parser and the line index count
// LF only: every problem of such a file was on line 1 (or a yaml-parser error that js-yaml does not see). It is made LF,
// one character for one, so offsets stay the file's; values do not change (YAML reads any line break in a scalar as
// LF, JSON takes a raw line break only as a blank). A file without CR costs one native search.
function lfBreaks(text: string): string {
  return text.includes('\r') && /\r(?!\n)/.test(text) ? text.replace(/\r(?!\n)/g, '\n') : text;
}
