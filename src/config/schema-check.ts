import type { ErrorObject } from 'ajv';
import type { Diagnostic } from '../common/diagnostic.js';
import type { RawConfig } from './schema.js';
import { validateConfig as validateFn } from './schema-validator.js';

// Checks a parsed document against the JSON Schema; each problem becomes one diagnostic with a readable expectation.
export function schemaCheck(
  value: unknown,
): { ok: true; config: RawConfig } | { ok: false; diagnostics: Diagnostic[] } {
  if (validateFn(value)) return { ok: true, config: value };
  return { ok: false, diagnostics: toDiagnostics(validateFn.errors ?? []) };
}

function toDiagnostics(errors: readonly ErrorObject[]): Diagnostic[] {
  // A failed oneOf at path P comes with the complaints of every branch. When some branch complains about something
  // inside the value (an unknown key of the object form), the user chose that form: keep those. Otherwise the value
  // matches no form at all: keep only the oneOf, which states every accepted form.
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const under = (e: ErrorObject, p: string): boolean => e.instancePath === p || e.instancePath.startsWith(`${p}/`);
  const drop = new Set<ErrorObject>();
  for (const o of oneOfs) {
    const branch = errors.filter(
      (e) =>
        e !== o &&
        under(e, o.instancePath) &&
        !oneOfs.some((x) => x !== o && x.instancePath.length > o.instancePath.length && under(e, x.instancePath)),
    );
    const deeper = branch.filter((e) => e.instancePath !== o.instancePath && e.keyword !== 'oneOf');
    if (deeper.length > 0) {
      drop.add(o);
      for (const e of branch) if (e.instancePath === o.instancePath) drop.add(e);
    } else {
      for (const e of branch) drop.add(e);
    }
  }
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (drop.has(e)) continue;
    const d = describe(e);
    const key = `${d.path}\u0000${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

function describe(e: ErrorObject): Diagnostic {
  const base = { path: e.instancePath, severity: 'error' as const };
  // The first sentence of the schema's description, as an expectation: "A port, a range ..." -> "a port, a range ...".
  const full = (e.parentSchema as { description?: string } | undefined)?.description;
  const first = full?.split(/\.(\s|$)/)[0];
  const desc = first === undefined ? undefined : first.charAt(0).toLowerCase() + first.slice(1);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).filter(
        (k) => k !== '$schema',
      );
      return {
        ...base,
        path: `${e.instancePath}/${String(p.additionalProperty)}`,
        code: 'schema.unknown-key',
        message: `unknown key "${String(p.additionalProperty)}"; expected one of: ${allowed.join(', ')}`,
      };
    }
    case 'required':
      return { ...base, code: 'schema.required', message: `missing required key "${String(p.missingProperty)}"` };
    case 'enum':
      return {
        ...base,
        code: 'schema.enum',
        message: `expected one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    case 'oneOf':
      return { ...base, code: 'schema.one-of', message: `expected ${desc ?? 'one of the allowed forms'}` };
    case 'type':
      return { ...base, code: 'schema.type', message: `expected ${String(p.type)}${desc ? ` (${desc})` : ''}` };
    case 'pattern':
      return {
        ...base,
        code: 'schema.pattern',
        message: `expected ${desc ? `${desc}, ` : ''}matching ${String(p.pattern)}`,
      };
    case 'minimum':
    case 'maximum':
      return {
        ...base,
        code: `schema.${e.keyword}`,
        message: `expected a value ${String(p.comparison)} ${String(p.limit)}`,
      };
    case 'minItems':
      return { ...base, code: 'schema.min-items', message: `expected at least ${String(p.limit)} item(s)` };
    case 'maxItems':
      return { ...base, code: 'schema.max-items', message: `expected at most ${String(p.limit)} item(s)` };
    case 'uniqueItems':
      return { ...base, code: 'schema.unique-items', message: 'expected no repeated items' };
    case 'minLength':
      return { ...base, code: 'schema.min-length', message: 'expected a non-empty string' };
    default:
      return { ...base, code: `schema.${e.keyword}`, message: e.message ?? 'invalid value' };
  }
}
