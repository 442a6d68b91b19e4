// Shared pieces of the health unit tests: a config-to-model helper (the fake host is test/support/fake-system.ts).
import { checkConfig } from '../../src/config/read.js';
import type { Model } from '../../src/model/types.js';

// Builds a model from YAML text, failing loudly on any diagnostic error.
export function modelOf(yaml: string): Model {
  const c = checkConfig('test.yaml', yaml);
  if (c.model === undefined) throw new Error(c.diagnostics.map((d) => `${d.path}: ${d.message}`).join('\n'));
  return c.model;
}
