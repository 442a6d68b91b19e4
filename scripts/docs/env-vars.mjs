// The environment variables nftlb reads: every `env['NFTLB_…']` / `env.NFTLB_…` in src/. The man page's hand-written
// ENVIRONMENT section must name exactly these, which the generator checks.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

// Sorted names of the NFTLB_* variables read anywhere under dir, each with the files that read it.
export function envVarsRead(dir) {
  const found = new Map();
  const re = /\benv(?:\[\s*['"](NFTLB_[A-Z0-9_]+)['"]\s*\]|\??\.(NFTLB_[A-Z0-9_]+))/g;
  for (const f of tsFiles(dir)) {
    for (const m of readFileSync(f, 'utf8').matchAll(re)) {
      const name = m[1] ?? m[2];
      found.set(name, [...(found.get(name) ?? []), f]);
    }
  }
  return new Map([...found].sort(([a], [b]) => a.localeCompare(b)));
}
