import type { Diagnostic } from '../common/diagnostic.js';
import { MAX_NESTING } from './limits.js';

// What a format reader (parse-json.ts, parse-yaml.ts) makes of config text.
export interface ParsedText {
  /** The value; undefined when the text is not a usable document (diagnostics say why). */
  readonly value: unknown;
  /** Problems of the text itself (syntax, duplicate keys, nesting, emptiness), each on its line. */
  readonly diagnostics: readonly Diagnostic[];
  /** 1-based lines of the nodes at some JSON pointers (each: the node, or its closest existing parent). */
  locate(pointers: readonly string[]): (number | undefined)[];
}

// The diagnostic of a file with no document in it.
export function emptyDocument(format: 'JSON' | 'YAML'): Diagnostic {
  return {
    path: '',
    line: 1,
    code: 'parse.empty',
    message: `the file is empty (no ${format} document); expected a mapping with at least "services"`,
    severity: 'error',
  };
}

// The diagnostic of a document nested deeper than MAX_NESTING, at the line where it goes past the limit.
export function tooDeep(line: number): Diagnostic {
  return {
    path: '',
    line,
    code: 'parse.too-deep',
    message: `nested deeper than ${MAX_NESTING} levels of lists and mappings (an nftlb config needs 5)`,
    severity: 'error',
  };
}

// The diagnostic of a key given twice in one mapping (path: the mapping's JSON pointer), on the line of the second.
export function duplicateKey(path: string, key: string, line: number, firstLine: number | undefined): Diagnostic {
  const first = firstLine === undefined ? '' : ` (first on line ${firstLine})`;
  return {
    path,
    line,
    code: 'parse.duplicate-key',
    message: `key ${JSON.stringify(key)} given twice${first}; a key may appear only once there`,
    severity: 'error',
  };
}
