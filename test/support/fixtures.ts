import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository's fixtures/ folder, found from the compiled test file (dist/test/support -> ../../../fixtures).
export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../fixtures');

// The config file of a fixture case (config.yaml or config.json), or undefined when the folder is not a case.
export function fixtureConfig(dir: string): string | undefined {
  return ['config.yaml', 'config.yml', 'config.json'].find((f) => existsSync(join(dir, f)));
}
