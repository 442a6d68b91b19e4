// Fills a hand-written man page template (man/*.in): a line that is only @NAME@ becomes the generated block NAME, and
// @NAME@ inside a line the generated text NAME. A marker without a value, or a value without a marker, is an error, so
// the template and the generator cannot go apart unnoticed.

// The template with every @NAME@ replaced by values[NAME].
export function fill(template, values, what) {
  const used = new Set();
  const out = template.replace(/@([A-Z_]+)@/g, (m, name) => {
    if (!(name in values)) throw new Error(`${what}: no value for ${m}`);
    used.add(name);
    return values[name];
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`${what}: the template has no @${unused.join('@, @')}@`);
  // Generated blocks may end in a newline before the template's own; man(7) does not want empty lines.
  return `${out.replace(/\n{2,}/g, '\n').replace(/\n*$/, '')}\n`;
}
