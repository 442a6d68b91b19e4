// A problem found in a config: where it is (JSON pointer + file line) and what was expected.
export interface Diagnostic {
  /** JSON pointer into the config, e.g. /services/0/backends/1/port ("" for the whole document). */
  readonly path: string;
  /** 1-based line in the config file, when the loader could place it. */
  readonly line?: number;
  /** Stable machine-readable code, e.g. schema.type, service.duplicate-name. */
  readonly code: string;
  readonly message: string;
  /** error (the config is refused) or warning (reported, the config is still used). */
  readonly severity: 'error' | 'warning';
}

// Formats one diagnostic as `file:line: path: message [code]`, the form editors and grep understand. Keys and values
// of the config are quoted in it as they are: it is made one line of printable text (see oneLine).
export function formatDiagnostic(file: string, d: Diagnostic): string {
  const where = d.line === undefined ? file : `${file}:${d.line}`;
  const path = d.path === '' ? '(document)' : keyPath(d.path);
  const sev = d.severity === 'warning' ? 'warning: ' : '';
  return oneLine(`${where}: ${sev}${path}: ${d.message} [${d.code}]`);
}

// Characters that break a line or act on a terminal: C0 and C1 controls (line breaks, ESC sequences), DEL, the line
// and paragraph separators and the bidirectional controls (U+202E shows the rest of the line reversed).
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

// Text from a config shown to a person as one line: such characters escaped as JSON writes them (\n, \u001b, \u202e).
// A value with a line break cannot forge a second diagnostic, nor an escape sequence retitle the terminal.
export function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Turns a JSON pointer into the dotted key path users read in YAML: /services/0/port -> services[0].port.
export function keyPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

// True when at least one diagnostic refuses the config.
export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
