import type { ErrorObject } from 'ajv';
import type { Diagnostic } from '../common/diagnostic.js';
import { MAX_PROBLEMS } from './limits.js';
import { setAside } from './schema-clean.js';
import type { RawConfig, RawService } from './schema.js';
import { validateConfig as validateFn } from './schema-validator.js';

/** Backends validated per call of the validator: keeps the errors of one call bounded (a backend has at most ~1,000). */
const BACKENDS_PER_CALL = 100;

// The outcome of the schema check.
export interface SchemaChecked {
  /** Every problem found, in no particular order (the caller places and sorts them). */
  readonly diagnostics: readonly Diagnostic[];
  /** The config, when it is valid as a whole. */
  readonly config: RawConfig | undefined;
  /** When it is not: the parts whose shape is valid (unknown keys set aside, invalid services and top-level keys left
   *  out), for the semantic rules; `indices` are the services' places in the file. Undefined when the top level
   *  itself is invalid, or when checking stopped. */
  readonly partial: { readonly config: RawConfig; readonly indices: readonly number[] } | undefined;
  /** True when checking stopped at MAX_PROBLEMS problems. */
  readonly stopped: boolean;
}

// Checks a parsed document against the JSON Schema; each problem becomes one diagnostic with a readable expectation.
// Unknown keys and over-long lists are found first (schema-clean.ts) and taken out; then the validator sees the top
// level and each service (its backends a hundred at a time) in turn, so no call can return more than a bounded number
// of errors, and checking stops once MAX_PROBLEMS are found: memory stays bounded whatever the input.
export function schemaCheck(value: unknown): SchemaChecked {
  const aside = setAside(value, MAX_PROBLEMS);
  // The validator's problems come first, unknown keys after them (on one line: as the validator used to order them).
  const diagnostics: Diagnostic[] = [];
  const clean = aside.value;
  if (aside.stopped) return { diagnostics: aside.diagnostics, config: undefined, partial: undefined, stopped: true };
  const root =
    clean !== null && typeof clean === 'object' && !Array.isArray(clean)
      ? (clean as Record<string, unknown>)
      : undefined;
  const services = root !== undefined && Array.isArray(root['services']) ? (root['services'] as unknown[]) : undefined;
  if (root === undefined || services === undefined) {
    diagnostics.push(...validate(clean, '', ''), ...aside.diagnostics);
    return { diagnostics, config: undefined, partial: undefined, stopped: false };
  }
  const rootProblems = validate({ ...root, services: [] }, '', '');
  diagnostics.push(...rootProblems);
  const valid: unknown[] = [];
  const indices: number[] = [];
  let stopped = false;
  for (let i = 0; i < services.length; i++) {
    if (diagnostics.length + aside.diagnostics.length >= MAX_PROBLEMS) {
      stopped = true;
      break;
    }
    const found = validateService(services[i], i);
    if (found.length === 0) {
      valid.push(services[i]);
      indices.push(i);
    } else {
      for (const d of found) diagnostics.push(d);
    }
  }
  for (const d of aside.diagnostics) diagnostics.push(d);
  if (diagnostics.length === 0) return { diagnostics, config: clean as RawConfig, partial: undefined, stopped: false };
  if (stopped) return { diagnostics, config: undefined, partial: undefined, stopped };
  // The semantic rules run on what is left when only top-level keys other than services are wrong (they are left out:
  // an invalid table name falls back to the default).
  const topLevel = rootProblems.map((d) => d.path.split('/')[1] ?? '');
  if (topLevel.some((k) => k === '' || k === 'services'))
    return { diagnostics, config: undefined, partial: undefined, stopped };
  const rest: Record<string, unknown> = { ...root, services: valid };
  for (const k of topLevel) delete rest[k];
  return { diagnostics, config: undefined, partial: { config: rest as RawConfig, indices }, stopped };
}

// The problems of one service, with paths in the file (/services/<i>/...).
function validateService(s: unknown, i: number): Diagnostic[] {
  const backends = s !== null && typeof s === 'object' ? (s as Partial<RawService>).backends : undefined;
  if (!Array.isArray(backends) || backends.length <= BACKENDS_PER_CALL) {
    // One wrapper for every service: 50k valid services cost no allocation here.
    WRAPPER.services[0] = s;
    const ok = validateFn(WRAPPER);
    WRAPPER.services[0] = undefined;
    return ok ? [] : toDiagnostics(moved(validateFn.errors, '/services/0', `/services/${i}`, 0));
  }
  const prefix = `/services/${i}`;
  const shell = { ...(s as object), backends: [] };
  const out = validate({ services: [shell] }, '/services/0', prefix);
  for (let b = 0; b < backends.length && out.length < MAX_PROBLEMS; b += BACKENDS_PER_CALL) {
    const chunk = { ...(s as object), backends: backends.slice(b, b + BACKENDS_PER_CALL) };
    // The service's own problems were found with the shell; each chunk adds those of its backends.
    for (const d of validate({ services: [chunk] }, '/services/0', prefix, b))
      if (d.path.startsWith(`${prefix}/backends/`)) out.push(d);
  }
  return out;
}

const WRAPPER: { services: unknown[] } = { services: [undefined] };

// Validates a document and turns its errors into diagnostics, the instance paths moved from `from` to `to` (and, for a
// chunk of backends, their indexes by `offset`).
function validate(doc: unknown, from: string, to: string, offset = 0): Diagnostic[] {
  return validateFn(doc) ? [] : toDiagnostics(moved(validateFn.errors, from, to, offset));
}

function moved(errors: ErrorObject[] | null | undefined, from: string, to: string, offset: number): ErrorObject[] {
  return (errors ?? []).map((e) => ({ ...e, instancePath: move(e.instancePath, from, to, offset) }));
}

function move(path: string, from: string, to: string, offset: number): string {
  if (from === '' || !(path === from || path.startsWith(`${from}/`))) return path;
  const rest = path.slice(from.length);
  if (offset === 0) return to + rest;
  const m = /^\/backends\/(\d+)(.*)$/.exec(rest);
  return m === null ? to + rest : `${to}/backends/${Number(m[1]) + offset}${m[2]}`;
}

const LIST_KEYWORDS = new Set(['maxItems', 'minItems', 'uniqueItems']);

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
      // At the value itself, keep what only the chosen form can say of it (a list too long or too short).
      for (const e of branch) if (e.instancePath === o.instancePath && !LIST_KEYWORDS.has(e.keyword)) drop.add(e);
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

// JSON Schema's type names as the config reference words them.
const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'nothing (null)',
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ');
}

// What the config has where something else was expected, briefly: a quoted string says it is one (`"80"`, a port
// written in quotes), a long one is cut.
function found(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'nothing';
  return Array.isArray(v) ? 'a list' : 'a mapping';
}

function describe(e: ErrorObject): Diagnostic {
  const base = { path: e.instancePath, severity: 'error' as const };
  // The first sentence of the schema's description, as an expectation: "A port, a range ..." -> "a port, a range ...".
  const full = (e.parentSchema as { description?: string } | undefined)?.description;
  const first = full?.split(/\.(\s|$)/)[0];
  const desc = first === undefined ? undefined : first.charAt(0).toLowerCase() + first.slice(1);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { ...base, code: 'schema.required', message: `missing required key "${String(p.missingProperty)}"` };
    case 'enum':
      return {
        ...base,
        code: 'schema.enum',
        message: `expected one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    case 'oneOf':
      return {
        ...base,
        code: 'schema.one-of',
        message: `expected ${desc ?? 'one of the allowed forms'}, got ${found(e.data)}`,
      };
    case 'type':
      return {
        ...base,
        code: 'schema.type',
        message: `expected ${typeWords(p.type)}${desc ? ` (${desc})` : ''}, got ${found(e.data)}${
          p.type === 'string' && typeof e.data === 'number'
            ? `: quote it ("${String(e.data)}") to make it a string`
            : ''
        }`,
      };
    case 'pattern':
      return {
        ...base,
        code: 'schema.pattern',
        message: `expected ${desc ? `${desc}, ` : ''}matching ${String(p.pattern)}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
      return {
        ...base,
        code: `schema.${e.keyword === 'exclusiveMinimum' ? 'minimum' : e.keyword}`,
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
    case 'maxLength':
      return {
        ...base,
        code: 'schema.max-length',
        message: `expected at most ${String(p.limit)} characters${desc ? ` (${desc})` : ''}`,
      };
    default:
      return { ...base, code: `schema.${e.keyword}`, message: e.message ?? 'invalid value' };
  }
}
