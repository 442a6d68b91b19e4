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

// Formats one diagnostic as `file:line: path: message [code]`, the form editors and grep understand.
export function formatDiagnostic(file: string, d: Diagnostic): string {
  const where = d.line === undefined ? file : `${file}:${d.line}`;
  const path = d.path === '' ? '(document)' : keyPath(d.path);
  const sev = d.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${sev}${path}: ${d.message} [${d.code}]`;
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
