import type { Diagnostic } from '../common/diagnostic.js';
import { escapeSegment } from './lines.js';
import { configSchema } from './schema.js';

// A JSON Schema node, as far as the walk below reads one.
interface SchemaNode {
  readonly $ref?: string;
  readonly type?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean;
  readonly items?: SchemaNode;
  readonly maxItems?: number;
  readonly oneOf?: readonly SchemaNode[];
}

const ROOT = configSchema as unknown as SchemaNode;
const DEFINITIONS = (configSchema as unknown as { definitions: Record<string, SchemaNode> }).definitions;

/** Longest key quoted in a message; a longer one is cut (a hostile file may hold a key of megabytes). */
const KEY_SHOWN = 64;

// Sets aside what the validator must not see in bulk: unknown keys (each one a diagnostic, the key taken out) and list
// items past a list's maxItems (cut to maxItems + 1, so the validator still reports the limit, once). What is left has
// only known keys and bounded lists: the validator's errors for it are bounded by its size. Copies only what changes.
// Stops collecting at `budget` diagnostics (and `stopped` says so): the value is then only partly cleaned.
export function setAside(
  value: unknown,
  budget: number,
): { value: unknown; diagnostics: Diagnostic[]; stopped: boolean } {
  const diagnostics: Diagnostic[] = [];
  let stopped = false;

  const walk = (v: unknown, schema: SchemaNode, path: string): unknown => {
    if (stopped) return v;
    const s = resolve(schema, v);
    if (s === undefined || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      if (s.type !== 'array') return v;
      let out: unknown[] = v;
      if (s.maxItems !== undefined && out.length > s.maxItems + 1) out = out.slice(0, s.maxItems + 1);
      const items = s.items;
      if (items === undefined) return out;
      for (let i = 0; i < out.length; i++) {
        const x = out[i];
        if (x === null || typeof x !== 'object') continue;
        const y = walk(x, items, `${path}/${i}`);
        if (y !== x) {
          if (out === v) out = v.slice();
          out[i] = y;
        }
      }
      return out;
    }
    if (s.type !== 'object' || s.properties === undefined) return v;
    const props = s.properties;
    let out: Record<string, unknown> | undefined;
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      const ps = Object.prototype.hasOwnProperty.call(props, k) ? props[k] : undefined;
      if (ps === undefined) {
        if (s.additionalProperties !== false) continue;
        out ??= { ...(v as Record<string, unknown>) };
        delete out[k];
        if (diagnostics.length >= budget) {
          stopped = true;
          return out;
        }
        diagnostics.push(unknownKey(path, k, props));
        continue;
      }
      if (x === null || typeof x !== 'object') continue;
      const y = walk(x, ps, `${path}/${escapeSegment(k)}`);
      if (y !== x) {
        out ??= { ...(v as Record<string, unknown>) };
        out[k] = y;
      }
    }
    return out ?? v;
  };

  const clean = walk(value, ROOT, '');
  return { value: clean, diagnostics, stopped };
}

// The schema node that applies to a value: $ref followed, and of a oneOf the branch of the value's kind (an object
// or a list; this schema has at most one of each per oneOf).
function resolve(schema: SchemaNode, v: unknown): SchemaNode | undefined {
  let s: SchemaNode | undefined = schema;
  for (let i = 0; i < 8 && s !== undefined; i++) {
    if (s.$ref !== undefined) s = DEFINITIONS[s.$ref.replace('#/definitions/', '')];
    else if (s.oneOf !== undefined) {
      const kind = Array.isArray(v) ? 'array' : 'object';
      s = s.oneOf
        .map((b) => (b.$ref !== undefined ? DEFINITIONS[b.$ref.replace('#/definitions/', '')] : b))
        .find((b) => b?.type === kind);
    } else return s;
  }
  return s;
}

function unknownKey(path: string, key: string, props: Readonly<Record<string, SchemaNode>>): Diagnostic {
  const allowed = Object.keys(props).filter((k) => k !== '$schema');
  // A key too long to print is reported on its object.
  const long = key.length > KEY_SHOWN;
  const shown = long ? `${key.slice(0, KEY_SHOWN)}..." (${key.length} characters)` : `${key}"`;
  return {
    path: long ? path : `${path}/${escapeSegment(key)}`,
    code: 'schema.unknown-key',
    message: `unknown key "${shown}; expected one of: ${allowed.join(', ')}`,
    severity: 'error',
  };
}
