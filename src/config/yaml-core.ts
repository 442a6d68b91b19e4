import jsyaml from 'js-yaml';

// The YAML 1.2 core schema (YAML 1.2.2, section 10.3.2) as js-yaml types. js-yaml's own CORE_SCHEMA is looser than the
// spec (it reads 0b101 and +0x1 as integers and misses +.5 as a float); the `yaml` parser, which places diagnostics on
// lines, follows the spec. With these types both read every scalar the same way (test/config/yaml-core.test.ts).

const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const BOOL_RE = /^(?:true|True|TRUE|false|False|FALSE)$/;
const INT_RE = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
const FLOAT_RE =
  /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

const constructInt = (d: string): number =>
  d.startsWith('0o')
    ? Number.parseInt(d.slice(2), 8)
    : d.startsWith('0x')
      ? Number.parseInt(d.slice(2), 16)
      : Number(d);

const constructFloat = (d: string): number => {
  const sign = d.startsWith('-') ? -1 : 1;
  const bare = d.replace(/^[-+]/, '').toLowerCase();
  if (bare === '.inf') return sign * Infinity;
  if (bare === '.nan') return NaN;
  return Number(d);
};

const scalar = (tag: string, pattern: RegExp, construct: (data: string) => unknown, empty = false): jsyaml.Type =>
  new jsyaml.Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    // data is null for an empty node, which only null resolves.
    resolve: (data: string | null) => (data === null ? empty : pattern.test(data)),
    construct: (data: string | null) => (data === null ? null : construct(data)),
  });

// For explicit tags (`!!int 0x1F`): each type on its own.
const NULL = scalar('null', NULL_RE, () => null, true);
const BOOL = scalar('bool', BOOL_RE, (d) => d[0] === 't' || d[0] === 'T');
const INT = scalar('int', INT_RE, constructInt);
const FLOAT = scalar('float', FLOAT_RE, constructFloat);

// Which of null, bool, int and float a plain scalar is, or undefined for a string: the four types above tried in that
// order, as js-yaml would, but as one resolver that rules most strings out by their first character. js-yaml calls every
// implicit type's resolver in turn for each plain scalar, keys included: with four of them that was ~30 ms of the 0.4 s
// it takes to read 50,000 services. Plain decimal digits (ports, weights) are an int without a regular expression (kind
// `digits`, read with Number), and text with two dots (an IPv4 address) is neither an int nor a float.
function coreKind(d: string): 'null' | 'bool' | 'digits' | 'int' | 'float' | undefined {
  if (d === '') return 'null';
  const c = d.charCodeAt(0);
  // 0-9 + - .
  if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46) {
    let i = 0;
    for (let k = d.charCodeAt(0); k >= 48 && k <= 57; k = d.charCodeAt(++i));
    if (i === d.length) return 'digits';
    const dot = d.indexOf('.');
    if (dot >= 0 && d.indexOf('.', dot + 1) >= 0) return undefined;
    if (INT_RE.test(d)) return 'int';
    return FLOAT_RE.test(d) ? 'float' : undefined;
  }
  // ~ n N
  if (c === 126 || c === 110 || c === 78) return NULL_RE.test(d) ? 'null' : undefined;
  // t T f F
  if (c === 116 || c === 84 || c === 102 || c === 70) return BOOL_RE.test(d) ? 'bool' : undefined;
  return undefined;
}

// js-yaml constructs a scalar right after resolving it: the kind found for the last one resolved is kept for that (in
// two variables, not an object: one object per scalar was ~20 MB of garbage for 50,000 services).
let lastData: string | undefined;
let lastKind: ReturnType<typeof coreKind>;
const kindOf = (data: string): ReturnType<typeof coreKind> => (data === lastData ? lastKind : coreKind(data));

// The implicit types as one (see coreKind). Its tag is nftlb's own: js-yaml records it on the node, and nothing reads it.
const CORE = new jsyaml.Type('tag:nftlb.invalid,2026:core-implicit', {
  kind: 'scalar',
  resolve: (data: string | null) => {
    if (data === null) return true;
    lastData = data;
    lastKind = coreKind(data);
    return lastKind !== undefined;
  },
  construct: (data: string | null) => {
    if (data === null) return null;
    switch (kindOf(data)) {
      case 'null':
        return null;
      case 'bool':
        return data[0] === 't' || data[0] === 'T';
      case 'digits':
        return Number(data);
      case 'int':
        return constructInt(data);
      default:
        return constructFloat(data);
    }
  },
});

/** YAML 1.2 core schema for js-yaml: null, bool, int and float resolved as the spec says; str, seq and map from the
 *  failsafe schema. No other tags (no timestamps, no merge keys). */
export const YAML_CORE_SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({ implicit: [CORE], explicit: [NULL, BOOL, INT, FLOAT] });
