import { readFile } from 'node:fs/promises';
import { hasErrors, type Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { normalize } from './normalize.js';
import type { Model } from '../model/types.js';
import { parseConfigText, type LoadedDocument } from './parse.js';
import { rules } from './rules/index.js';
import { schemaCheck } from './schema-check.js';

// The outcome of checking a config: the model when there are no errors, and every diagnostic (placed on lines).
export interface Checked {
  readonly doc: LoadedDocument;
  readonly model: Model | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** Where nftlb looks for its config when -c is not given. */
export const DEFAULT_CONFIG_PATH = '/etc/nftlb/nftlb.yaml';

// Reads a config file; an unreadable file is an error of its own (exit code differs from an invalid config).
export async function readConfigFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new NftlbError(
      'config-read',
      `cannot read config ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
}

// parse -> schema -> normalize -> semantic rules, collecting every problem rather than stopping at the first.
export function checkConfig(file: string, text: string): Checked {
  const doc = parseConfigText(file, text);
  // Placed on lines and sorted by line, so the report reads top to bottom like the file (sort is stable).
  const place = (ds: readonly Diagnostic[]): Diagnostic[] =>
    ds
      .map((d) => (d.line === undefined ? { ...d, line: doc.locate(d.path) } : d))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (doc.value === undefined) return { doc, model: undefined, diagnostics: doc.diagnostics };
  const schema = schemaCheck(doc.value);
  if (!schema.ok) return { doc, model: undefined, diagnostics: place(schema.diagnostics) };
  const { model, diagnostics: valueProblems } = normalize(schema.config);
  const ruleProblems = rules.flatMap((r) => r({ raw: schema.config, model }));
  const diagnostics = place([...valueProblems, ...ruleProblems]);
  return { doc, model: hasErrors(diagnostics) ? undefined : model, diagnostics };
}

// Reads and checks a config, throwing config-invalid (with all diagnostics) unless it is usable.
export async function loadModel(file: string): Promise<{ model: Model; warnings: readonly Diagnostic[] }> {
  const checked = checkConfig(file, await readConfigFile(file));
  if (checked.model === undefined) {
    throw new NftlbError('config-invalid', `${file}: invalid config`, { diagnostics: checked.diagnostics });
  }
  return { model: checked.model, warnings: checked.diagnostics };
}
