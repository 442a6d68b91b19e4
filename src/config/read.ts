import { hasErrors, type Diagnostic } from '../common/diagnostic.js';
import { normalize } from './normalize.js';
import type { Model } from '../model/types.js';
import type { DecodedConfig } from './decode.js';
import { parseConfigText, type LoadedDocument } from './parse.js';
import { rules } from './rules/index.js';
import { schemaCheck } from './schema-check.js';
import { MAX_PROBLEMS } from './limits.js';

// The outcome of checking a config: the model when there are no errors, and every diagnostic (placed on lines).
export interface Checked {
  readonly doc: LoadedDocument;
  readonly model: Model | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** True when checking stopped at MAX_PROBLEMS problems: there may be more than these. */
  readonly stopped: boolean;
}

/** Code of the last diagnostic when checking stopped at MAX_PROBLEMS problems (there may be more). */
export const STOPPED_CODE = 'check.stopped';

// (text, or a file decoded) parse -> schema -> normalize -> semantic rules, collecting every problem rather than stopping at the first. When the
// schema check finds problems, the semantic rules still run on the services whose shape is valid (and with unknown
// keys set aside), so one run reports the problems of both kinds. `stage` hears each stage as it starts (the CLI's
// progress line at 10k services).
export function checkConfig(
  file: string,
  text: string | DecodedConfig,
  stage: (what: string) => void = () => undefined,
): Checked {
  stage(`parsing ${file}`);
  const doc = parseConfigText(file, text);
  if (doc.value === undefined) return { doc, model: undefined, diagnostics: doc.diagnostics, stopped: false };
  stage(`checking ${file} against the schema`);
  const schema = schemaCheck(doc.value);
  const found: Diagnostic[] = [...schema.diagnostics];
  const target = schema.config !== undefined ? { config: schema.config, indices: undefined } : schema.partial;
  let model: Model | undefined;
  if (target !== undefined) {
    stage(`reading the ${target.config.services.length} services of ${file}`);
    const n = normalize(target.config, target.indices);
    for (const d of n.diagnostics) found.push(d);
    stage(`checking the ${n.model.services.length} services of ${file}`);
    for (const r of rules) for (const d of r({ raw: target.config, model: n.model })) found.push(d);
    if (schema.config !== undefined) model = n.model;
  }
  const diagnostics = place(doc, found);
  if (schema.stopped)
    diagnostics.push({
      path: '',
      line: diagnostics[diagnostics.length - 1]?.line ?? 1,
      code: STOPPED_CODE,
      message: `checking stopped after ${MAX_PROBLEMS} problems; fix these and check again`,
      severity: 'error',
    });
  return { doc, model: hasErrors(diagnostics) ? undefined : model, diagnostics, stopped: schema.stopped };
}

// Puts each diagnostic on its line (all looked up in one pass over the text) and sorts them by line, so the report
// reads top to bottom like the file (the sort is stable).
function place(doc: LoadedDocument, ds: readonly Diagnostic[]): Diagnostic[] {
  const unplaced = ds.filter((d) => d.line === undefined);
  const lines = unplaced.length === 0 ? [] : doc.locate(unplaced.map((d) => d.path));
  let k = 0;
  return ds
    .map((d) => (d.line === undefined ? { ...d, line: lines[k++] ?? 1 } : d))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
