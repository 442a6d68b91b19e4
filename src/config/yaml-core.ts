import jsyaml from 'js-yaml';

// The YAML 1.2 core schema (YAML 1.2.2, section 10.3.2) as js-yaml types. js-yaml's own CORE_SCHEMA is looser than the
// spec (it reads 0b101 and +0x1 as integers and misses +.5 as a float); the `yaml` parser, which places diagnostics on
// lines, follows the spec. With these types both read every scalar the same way (test/config/yaml-core.test.ts).

const scalar = (tag: string, pattern: RegExp, construct: (data: string) => unknown, empty = false): jsyaml.Type =>
  new jsyaml.Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    // data is null for an empty node, which only null resolves.
    resolve: (data: string | null) => (data === null ? empty : pattern.test(data)),
    construct: (data: string | null) => (data === null ? null : construct(data)),
  });

const NULL = scalar('null', /^(?:~|null|Null|NULL|)$/, () => null, true);
const BOOL = scalar('bool', /^(?:true|True|TRUE|false|False|FALSE)$/, (d) => d[0] === 't' || d[0] === 'T');
const INT = scalar('int', /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/, (d) =>
  d.startsWith('0o')
    ? Number.parseInt(d.slice(2), 8)
    : d.startsWith('0x')
      ? Number.parseInt(d.slice(2), 16)
      : Number(d),
);
const FLOAT = scalar(
  'float',
  /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  (d) => {
    const sign = d.startsWith('-') ? -1 : 1;
    const bare = d.replace(/^[-+]/, '').toLowerCase();
    if (bare === '.inf') return sign * Infinity;
    if (bare === '.nan') return NaN;
    return Number(d);
  },
);

/** YAML 1.2 core schema for js-yaml: null, bool, int and float resolved as the spec says; str, seq and map from the
 *  failsafe schema. No other tags (no timestamps, no merge keys). */
export const YAML_CORE_SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({ implicit: [NULL, BOOL, INT, FLOAT] });
