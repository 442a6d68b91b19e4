import { stringify } from 'yaml';

// YAML text of plain data (mappings, sequences, strings, integers), byte for byte what `yaml`'s stringify writes with
// lineWidth 0, but in one pass: stringify builds a document node per value, which took 3 s for an import of 100k
// services. Scalars that are plain for certain are written directly; any other scalar is written by stringify itself
// (and remembered), and data of another shape goes to stringify whole.

// Identifiers, dotted quads, port ranges, IPv6 addresses in canonical form: never quoted by stringify. Identifiers that
// YAML 1.2 reads as a boolean or null are.
const PLAIN =
  /^(?:[A-Za-z][A-Za-z0-9_-]*|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9]{1,5}-[0-9]{1,5}|[0-9a-f]{1,4}(?::[0-9a-f]{0,4})*:[0-9a-f]{1,4})$/;
const RESERVED = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'null', 'Null', 'NULL']);

/** Thrown inside the writer when the data has a shape it does not write; the caller falls back to stringify. */
class OtherShape extends Error {}

const quoted = new Map<string, string>();

function scalar(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new OtherShape();
    return String(v);
  }
  if (typeof v !== 'string') throw new OtherShape();
  if (PLAIN.test(v) && !RESERVED.has(v)) return v;
  let q = quoted.get(v);
  if (q === undefined) {
    q = stringify(v, { lineWidth: 0 }).slice(0, -1);
    if (q.includes('\n')) throw new OtherShape();
    if (quoted.size < 10000) quoted.set(v, q);
  }
  return q;
}

const isScalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number';
const isEmpty = (v: unknown): boolean =>
  Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0;

function mapping(o: unknown, indent: string, out: string[]): void {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new OtherShape();
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    const key = scalar(k);
    if (key !== k) throw new OtherShape();
    if (isScalar(v)) out.push(`${indent}${key}: ${scalar(v)}`);
    else if (isEmpty(v)) out.push(`${indent}${key}: ${Array.isArray(v) ? '[]' : '{}'}`);
    else {
      out.push(`${indent}${key}:`);
      if (Array.isArray(v)) sequence(v, `${indent}  `, out);
      else mapping(v, `${indent}  `, out);
    }
  }
}

function sequence(a: readonly unknown[], indent: string, out: string[]): void {
  for (const item of a) {
    if (isScalar(item)) out.push(`${indent}- ${scalar(item)}`);
    else if (Array.isArray(item) || isEmpty(item)) throw new OtherShape();
    else {
      const start = out.length;
      mapping(item, `${indent}  `, out);
      out[start] = `${indent}- ${out[start]!.slice(indent.length + 2)}`;
    }
  }
}

// The YAML text of a mapping, as stringify(data, { lineWidth: 0 }) writes it.
export function yamlText(data: { readonly [key: string]: unknown }): string {
  const out: string[] = [];
  try {
    if (isEmpty(data)) return stringify(data, { lineWidth: 0 });
    mapping(data, '', out);
  } catch (e) {
    if (e instanceof OtherShape) return stringify(data, { lineWidth: 0 });
    throw e;
  }
  out.push('');
  return out.join('\n');
}
