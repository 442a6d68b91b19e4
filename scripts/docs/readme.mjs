// The parts of README.md that the man pages carry, found by their headings. A missing heading is an error, so a renamed
// README section breaks `make man` (and its test) instead of silently dropping text from a man page.

// The text under the heading `title` (any level) up to the next heading of the same or a higher level.
export function readmeSection(md, title) {
  const src = md.split('\n');
  let inFence = false;
  let start = -1;
  let level = 0;
  for (let i = 0; i < src.length; i++) {
    if (/^\s*```/.test(src[i])) inFence = !inFence;
    if (inFence) continue;
    const h = /^(#+)\s+(.*?)\s*$/.exec(src[i]);
    if (!h) continue;
    if (start < 0) {
      if (h[2] === title) {
        start = i + 1;
        level = h[1].length;
      }
    } else if (h[1].length <= level) {
      return src.slice(start, i).join('\n');
    }
  }
  if (start < 0) throw new Error(`README.md has no section "${title}" (the man page generator reads it)`);
  return src.slice(start).join('\n');
}

// The text under `parent`'s subheading `title` (e.g. "Health checks and backend lifecycle" > "Config keys").
export function readmeSubsection(md, parent, title) {
  const body = readmeSection(md, parent);
  try {
    return readmeSection(body, title);
  } catch {
    throw new Error(`README.md section "${parent}" has no subsection "${title}" (the man page generator reads it)`);
  }
}
