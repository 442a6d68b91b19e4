import type { BackendChains } from './backend-chains.js';
import type { ChainIndex } from './chain-index.js';
import type { ImportedBackend, ImportedService } from './imported.js';
import type { ParsedFile, ParsedRule, Problem } from './parsed-rule.js';
import type { ServiceTable } from './service-table.js';

// The state of recognising one file, and the three ways a rule leaves it: listed, a service's listener, a service's
// pool.

// The work on one file: what it has used, what it has listed.
export interface FileWork {
  readonly file: ParsedFile;
  readonly index: ChainIndex;
  readonly backends: BackendChains;
  readonly services: ServiceTable;
  /** Services that got something from this file. */
  readonly touched: Set<ImportedService>;
  /** Rules a service or a report has taken. */
  readonly used: Set<ParsedRule>;
  readonly problems: Problem[];
  readonly ignored: Problem[];
}

// Lists a rule as not understood (once).
export function notUnderstood(w: FileWork, r: ParsedRule, reason: string): void {
  if (w.used.has(r)) return;
  w.used.add(r);
  w.problems.push({
    file: w.file.file,
    line: r.line,
    text: r.text,
    reason,
    ...(w.index.has(r.table, r.target) ? { jumps: `${r.table}:${r.target}` } : {}),
  });
}

// Adds a listener rule to a service (its clash checked before).
export function listen(w: FileWork, s: ImportedService, r: ParsedRule): void {
  w.services.addListener(s, r);
  w.used.add(r);
}

// Gives a service the rules of its pool; the rules of its backend chains go with its backends, unless the pool was
// the same as one it had (then the service keeps them among its own rules).
export function claim(
  w: FileWork,
  s: ImportedService,
  rules: readonly ParsedRule[],
  backends: readonly ImportedBackend[],
  added: boolean,
): void {
  w.touched.add(s);
  for (const r of rules) {
    s.rules.push(r);
    w.used.add(r);
  }
  for (const b of backends)
    for (const r of b.rules) {
      if (!added) s.rules.push(r);
      w.used.add(r);
    }
}
