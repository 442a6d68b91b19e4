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

// What the walk needs of a schema node, resolved once: for an object, its keys (and what each holds) and whether others
// are refused; for a list, its limit and items; for either kind of value, the branch of a oneOf that applies. null: no
// object or list below can hold an unknown key or a long list (a scalar, or a list of scalars without a limit).
interface Shape {
  object?: { readonly props: Map<string, Shape | null>; readonly closed: boolean; readonly allowed: string };
  array?: { readonly maxItems: number | undefined; readonly items: Shape | null };
}

const DEFINITIONS = (configSchema as unknown as { definitions: Record<string, SchemaNode> }).definitions;
const shapes = new Map<SchemaNode, Shape | null>();

function shapeOf(schema: SchemaNode | undefined): Shape | null {
  if (schema === undefined) return null;
  if (schema.$ref !== undefined) return shapeOf(DEFINITIONS[schema.$ref.replace('#/definitions/', '')]);
  const known = shapes.get(schema);
  if (known !== undefined) return known;
  const shape: Shape = {};
  shapes.set(schema, shape); // before the children: a schema that refers to itself stays finite
  for (const b of schema.oneOf ?? [schema]) {
    const node = b.$ref !== undefined ? DEFINITIONS[b.$ref.replace('#/definitions/', '')] : b;
    if (node?.type === 'object' && node.properties !== undefined) {
      const props = new Map<string, Shape | null>();
      for (const [k, v] of Object.entries(node.properties)) props.set(k, shapeOf(v));
      const allowed = Object.keys(node.properties)
        .filter((k) => k !== '$schema')
        .join(', ');
      shape.object = { props, closed: node.additionalProperties === false, allowed };
    } else if (node?.type === 'array') {
      shape.array = { maxItems: node.maxItems, items: shapeOf(node.items) };
    }
  }
  const useful = shape.object !== undefined || shape.array !== undefined;
  shapes.set(schema, useful ? shape : null);
  return useful ? shape : null;
}

const ROOT = shapeOf(configSchema as unknown as SchemaNode);

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

  // The keys and indexes from the root to the value being walked: the path is written out only for a diagnostic.
  const segs: (string | number)[] = [];
  const path = (): string => segs.map((k) => `/${typeof k === 'number' ? k : escapeSegment(k)}`).join('');
  const walk = (v: unknown, shape: Shape): unknown => {
    if (stopped) return v;
    if (Array.isArray(v)) {
      const a = shape.array;
      if (a === undefined) return v;
      let out: unknown[] = v;
      if (a.maxItems !== undefined && out.length > a.maxItems + 1) out = out.slice(0, a.maxItems + 1);
      const items = a.items;
      if (items === null) return out;
      for (let i = 0; i < out.length; i++) {
        const x = out[i];
        if (x === null || typeof x !== 'object') continue;
        segs.push(i);
        const y = walk(x, items);
        segs.pop();
        if (y !== x) {
          if (out === v) out = v.slice();
          out[i] = y;
        }
      }
      return out;
    }
    const o = shape.object;
    if (o === undefined) return v;
    let out: Record<string, unknown> | undefined;
    for (const k in v as object) {
      const x = (v as Record<string, unknown>)[k];
      const ps = o.props.get(k);
      if (ps === undefined) {
        if (!o.closed) continue;
        out ??= { ...(v as Record<string, unknown>) };
        delete out[k];
        if (diagnostics.length >= budget) {
          stopped = true;
          return out;
        }
        diagnostics.push(unknownKey(path(), k, o.allowed));
        continue;
      }
      if (ps === null || x === null || typeof x !== 'object') continue;
      segs.push(k);
      const y = walk(x, ps);
      segs.pop();
      if (y !== x) {
        out ??= { ...(v as Record<string, unknown>) };
        out[k] = y;
      }
    }
    return out ?? v;
  };

  const clean = ROOT === null || value === null || typeof value !== 'object' ? value : walk(value, ROOT);
  return { value: clean, diagnostics, stopped };
}

function unknownKey(path: string, key: string, allowed: string): Diagnostic {
  // A key too long to print is reported on its object.
  const long = key.length > KEY_SHOWN;
  const shown = long ? `${key.slice(0, KEY_SHOWN)}..." (${key.length} characters)` : `${key}"`;
  return {
    path: long ? path : `${path}/${escapeSegment(key)}`,
    code: 'schema.unknown-key',
    message: `unknown key "${shown}; expected one of: ${allowed}`,
    severity: 'error',
  };
}
