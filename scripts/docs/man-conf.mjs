// nftlb.conf(5): the hand-written man/nftlb.conf.5.in with its generated parts: KEYS and VALUE TYPES from the JSON
// Schema (keys, types, defaults, descriptions), joined with README.md's config reference (the annotated example, the
// meaning of each key, the notes after it, the schedulers), its health check keys and its examples.
import { readmeSection, readmeSubsection } from './readme.mjs';
import { blocks, blocksToRoff, bold, codeBlock, escape, inline, literal, markdownToRoff, tagged } from './roff.mjs';
import { schemaKeys } from './schema-keys.mjs';
import { fill } from './template.mjs';

// A link to another part of README.md: to the part this page carries, its section here; else the README's.
const SECTIONS_HERE = new Map([
  ['selection', 'SCHEDULERS'],
  ['health-checks-and-backend-lifecycle', 'HEALTH CHECKS'],
  ['examples', 'EXAMPLES'],
]);
const anchors = (anchor, text) =>
  SECTIONS_HERE.has(anchor) ? `**${SECTIONS_HERE.get(anchor)}**` : `${text} (README.md)`;
const md = (text) => inline(text, anchors);

// README's key table: one row per key (`services[].name`), the meaning in the second column. Rows that name several
// keys at once are pointers to other sections, kept as they are.
function readmeKeyRows(reference) {
  const table = blocks(reference).find((b) => b.kind === 'table' && /^key$/i.test(b.head[0] ?? ''));
  if (table === undefined) throw new Error('README.md "Config reference" has no | key | meaning | table');
  const single = [];
  const other = [];
  for (const row of table.rows) {
    const m = /^`([^`]+)`$/.exec(row[0] ?? '');
    if (m) single.push({ key: m[1], text: row[1] ?? '' });
    else other.push({ term: row[0] ?? '', text: row[1] ?? '' });
  }
  return { single, other };
}

// The README key `backends[].address` names the schema path `services[].backends[].address`: equal, or a suffix at a
// key boundary.
const names = (path, key) => path === key || path.endsWith(`.${key}`);

function keysSection(schema, reference) {
  const { sections } = schemaKeys(schema);
  const { single, other } = readmeKeyRows(reference);
  const meaning = new Map();
  for (const row of single) {
    const hits = sections.flatMap((s) => s.keys).filter((k) => names(k.path, row.key));
    if (hits.length !== 1)
      throw new Error(
        `README.md config reference: key \`${row.key}\` names ${hits.length === 0 ? 'no key' : `${hits.length} keys`} of the JSON Schema`,
      );
    meaning.set(hits[0].path, row.text);
  }
  const sectionOf = new Map(sections.flatMap((s) => s.paths.map((p) => [p, s])));
  const out = [];
  for (const s of sections) {
    if (s.id === 'top') out.push('.SS "Top level"');
    else {
      out.push(`.SS "${literal(s.title)}"`);
      if (s.paths.length > 1) out.push(`The same keys at ${s.paths.slice(1).map(bold).join(', ')}.`);
    }
    for (const k of s.keys) {
      const facts = [literal(k.type)];
      const sub = sectionOf.get(k.path) ?? sectionOf.get(`${k.path}[]`);
      if (sub !== undefined && sub !== s) facts.push(`keys under ${bold(sub.title)}`);
      if (k.required) facts.push('required');
      if (k.default !== null) facts.push(`default ${bold(k.default)}`);
      // The schema's description, then README's (they are two sources: a disagreement shows here).
      const body = [escape(k.description)];
      const readme = meaning.get(k.path);
      if (readme !== undefined) body.push(md(readme));
      out.push(tagged(`${bold(k.key)} (${facts.join('; ')})`, body.filter((x) => x !== '').join('\n.IP\n')));
    }
  }
  if (other.length > 0) {
    out.push('.SS "See also"');
    for (const o of other) out.push(tagged(md(o.term), md(o.text)));
  }
  return out.join('\n');
}

function typesSection(schema) {
  return schemaKeys(schema)
    .types.map((t) =>
      tagged(bold(t.name), [literal(t.type), escape(t.description)].filter((x) => x !== '').join('\n.IP\n')),
    )
    .join('\n');
}

// The blocks of README's config reference before its first subsection: the annotated example, the key table (used
// above) and the notes that follow it.
function referenceParts(reference) {
  const top = reference.split(/^#{2,} /m)[0];
  const bs = blocks(top);
  const example = bs.find((b) => b.kind === 'code');
  if (example === undefined) throw new Error('README.md "Config reference" has no example block');
  const notes = bs.filter((b) => b !== example && !(b.kind === 'table' && /^key$/i.test(b.head[0] ?? '')));
  return { example: example.text, notes };
}

// nftlb.conf(5) as roff, from the template, the JSON Schema and README.md.
export function confManPage({ template, schema, readme, version }) {
  const reference = readmeSection(readme, 'Config reference');
  const { example, notes } = referenceParts(reference);
  return fill(
    template,
    {
      VERSION: escape(version),
      EXAMPLE: codeBlock(example),
      REFERENCE_NOTES: blocksToRoff(notes, { anchors }),
      KEYS: keysSection(schema, reference),
      TYPES: typesSection(schema),
      SCHEDULERS: markdownToRoff(readmeSubsection(readme, 'Config reference', 'Selection'), { anchors }),
      HEALTH: markdownToRoff(readmeSubsection(readme, 'Health checks and backend lifecycle', 'Config keys'), {
        anchors,
      }),
      EXAMPLES: markdownToRoff(readmeSection(readme, 'Examples'), { anchors }),
    },
    'man/nftlb.conf.5.in',
  );
}
