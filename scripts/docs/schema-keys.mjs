// The config keys of nftlb as plain data, read from the JSON Schema (configSchema in src/config/schema.ts): each
// mapping that the config can hold becomes a section of keys with their type, default and description, and each named
// scalar definition (address, port, ...) a value type. A new key or definition needs no edit here.

const refName = (ref) => /^#\/definitions\/(.+)$/.exec(ref)?.[1] ?? null;

function isMapping(node) {
  return node !== undefined && node.type === 'object' && node.properties !== undefined;
}

// The schema's type of a node, as words: "integer 1..65535", "tcp | udp", "list of address (at least 1)", ...
export function typeText(schema, node) {
  if (node.$ref !== undefined) {
    const name = refName(node.$ref);
    const def = schema.definitions[name];
    return isMapping(def) ? 'mapping' : name;
  }
  if (node.oneOf !== undefined) return node.oneOf.map((n) => typeText(schema, n)).join(', or ');
  if (node.enum !== undefined) return node.enum.map(String).join(' | ');
  switch (node.type) {
    case 'string': {
      const parts = ['string'];
      if (node.pattern !== undefined) parts.push(`matching ${node.pattern}`);
      if (node.minLength !== undefined && node.maxLength !== undefined)
        parts.push(`of ${node.minLength}..${node.maxLength} characters`);
      else if (node.maxLength !== undefined) parts.push(`of at most ${node.maxLength} characters`);
      else if (node.minLength !== undefined)
        parts.push(`of at least ${node.minLength} character${node.minLength === 1 ? '' : 's'}`);
      return parts.join(' ');
    }
    case 'integer':
    case 'number': {
      const lo = node.minimum !== undefined ? String(node.minimum) : null;
      const hi = node.maximum !== undefined ? String(node.maximum) : null;
      if (lo !== null && hi !== null) return `${node.type} ${lo}..${hi}`;
      const bounds = [];
      if (node.exclusiveMinimum !== undefined) bounds.push(`> ${node.exclusiveMinimum}`);
      if (lo !== null) bounds.push(`>= ${lo}`);
      if (hi !== null) bounds.push(`<= ${hi}`);
      return [node.type, bounds.join(' and ')].filter((x) => x !== '').join(' ');
    }
    case 'array': {
      const limits = [];
      if (node.minItems !== undefined && node.maxItems !== undefined)
        limits.push(`${node.minItems} to ${node.maxItems}`);
      else if (node.minItems !== undefined) limits.push(`at least ${node.minItems}`);
      else if (node.maxItems !== undefined) limits.push(`at most ${node.maxItems}`);
      if (node.uniqueItems) limits.push('no repeats');
      const items = node.items === undefined ? 'values' : typeText(schema, node.items);
      return `list of ${items.includes(', or ') ? `(${items})` : items}${limits.length > 0 ? ` (${limits.join(', ')})` : ''}`;
    }
    case 'object':
      return 'mapping';
    case 'boolean':
      return 'boolean';
    default:
      return node.type === undefined ? 'any' : String(node.type);
  }
}

// Every enum value a node allows (through $ref and oneOf).
function enumValues(schema, node) {
  const n = resolve(schema, node);
  return [...(n.enum ?? []).map(String), ...(n.oneOf ?? []).flatMap((a) => enumValues(schema, a))];
}

// The default of a key: the schema's `default`; else what its description says, the schema's two ways: "Default X."
// or "value (default)" (the last of the key's enum values before the parenthesis).
export function defaultText(schema, node, description) {
  if (node.default !== undefined) return JSON.stringify(node.default);
  const text = description ?? '';
  const m = /\bDefault:? (.+?)\.(?:\s|$)/.exec(text);
  if (m) return m[1];
  const paren = /\([^)]*\bdefault\b[^)]*\)/.exec(text);
  if (!paren) return null;
  const before = text.slice(0, paren.index);
  let best = null;
  for (const v of enumValues(schema, node)) {
    const esc = v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const hit of before.matchAll(new RegExp(`(?<![\\w-])${esc}(?![\\w-])`, 'g')))
      if (best === null || hit.index > best.at) best = { at: hit.index, value: v };
  }
  return best?.value ?? null;
}

function resolve(schema, node) {
  return node.$ref !== undefined ? schema.definitions[refName(node.$ref)] : node;
}

// Sections of keys: [{ id, title, paths: [where it is used], keys: [{ key, path, type, default, description,
// required }] }], the top level first, then each mapping in the order the walk reaches it; and the named scalar types.
export function schemaKeys(schema) {
  const sections = [];
  const byDef = new Map();

  const section = (id, title, path) => {
    const s = { id, title, paths: [path], keys: [] };
    sections.push(s);
    return s;
  };

  // Adds the keys of mapping `node` to section `s`, the key names prefixed by `prefix` (inline mappings), the paths by
  // `path` (e.g. "services[].").
  const walk = (node, s, prefix, path) => {
    const required = new Set(node.required ?? []);
    for (const [key, prop] of Object.entries(node.properties)) {
      const full = `${path}${key}`;
      const target = resolve(schema, prop);
      const description = prop.description ?? target.description ?? '';
      s.keys.push({
        key: `${prefix}${key}`,
        path: full,
        type: typeText(schema, prop),
        default: defaultText(schema, prop, prop.description) ?? defaultText(schema, target, target.description),
        description,
        required: required.has(key),
      });
      nested(prop, s, `${prefix}${key}`, full);
    }
  };

  // A key whose value is (or may be) a mapping: a named definition gets its own section (once; later uses are listed
  // in its paths), an inline mapping continues in the same section with dotted keys.
  const nested = (prop, s, key, full) => {
    const named = prop.$ref !== undefined ? refName(prop.$ref) : null;
    const target = resolve(schema, prop);
    if (isMapping(target)) {
      if (named !== null) {
        if (byDef.has(named)) byDef.get(named).paths.push(full);
        else {
          const sub = section(named, full, full);
          byDef.set(named, sub);
          walk(target, sub, '', `${full}.`);
        }
      } else walk(target, s, `${key}.`, `${full}.`);
      return;
    }
    if (target.type === 'array' && target.items !== undefined) {
      const itemName = target.items.$ref !== undefined ? refName(target.items.$ref) : null;
      const item = resolve(schema, target.items);
      if (isMapping(item)) {
        const title = `${full}[]`;
        if (itemName !== null && byDef.has(itemName)) byDef.get(itemName).paths.push(title);
        else {
          const sub = section(itemName ?? title, title, title);
          if (itemName !== null) byDef.set(itemName, sub);
          walk(item, sub, '', `${title}.`);
        }
      }
      return;
    }
    for (const alt of target.oneOf ?? []) {
      const a = resolve(schema, alt);
      if (isMapping(a)) walk(a, s, `${key}.`, `${full}.`);
    }
  };

  walk(schema, section('top', 'top level', ''), '', '');

  const types = Object.entries(schema.definitions)
    .filter(([, def]) => !isMapping(def))
    .map(([name, def]) => ({ name, type: typeText(schema, def), description: def.description ?? '' }));
  return { sections, types };
}
