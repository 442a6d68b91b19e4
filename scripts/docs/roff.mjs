// roff for the generated man pages: escaping of plain text, and the small Markdown subset README.md and the doc
// comments use (paragraphs, nested lists, pipe tables, code fences, `code`, **bold**, [links](...)) turned into man(7).

const CHARS = new Map([
  ['—', '\\(em'],
  ['–', '\\(en'],
  ['…', '...'],
  ['→', '\\(->'],
  ['≤', '\\(<='],
  ['≥', '\\(>='],
  ['×', '\\(mu'],
  ['’', "'"],
  ['“', '"'],
  ['”', '"'],
]);

// Plain text as roff: backslashes and the few non-ASCII characters README.md uses are escaped, and a line that would
// start with . or ' (a request) begins with \& instead.
export function escape(text) {
  let out = text.replace(/\\/g, '\\e');
  for (const [c, r] of CHARS) out = out.split(c).join(r);
  return out.replace(/(^|\n)([.'])/g, '$1\\&$2');
}

// Literal text (option names, keys, code): also every '-' as \- so that it copies and searches as a minus sign.
export function literal(text) {
  return escape(text).replace(/-/g, '\\-');
}

// Bold literal text.
export function bold(text) {
  return `\\fB${literal(text)}\\fR`;
}

// Italic literal text.
export function italic(text) {
  return `\\fI${literal(text)}\\fR`;
}

// Inline Markdown as roff: `code` and **bold** in bold, [text](url) as text <url>, and [text](#anchor), a link to
// another part of README.md, as anchors(anchor, text) says (by default: its text).
export function inline(md, anchors = (_anchor, text) => text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)/g;
  let at = 0;
  for (const m of md.matchAll(re)) {
    out.push(escape(md.slice(at, m.index)));
    if (m[1] !== undefined) out.push(bold(m[1]));
    else if (m[2] !== undefined) out.push(`\\fB${inline(m[2], anchors)}\\fR`);
    else if (m[4].startsWith('#')) out.push(inline(anchors(m[4].slice(1), m[3]), anchors));
    else out.push(`${inline(m[3], anchors)} <${escape(m[4])}>`);
    at = m.index + m[0].length;
  }
  out.push(escape(md.slice(at)));
  return out.join('');
}

// A literal block (code, config example), indented and not filled.
export function codeBlock(code) {
  const body = code
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => literal(l));
  return ['.PP', '.RS 4', '.nf', body.join('\n'), '.fi', '.RE'].join('\n');
}

// A tagged paragraph: term on its own line, body (roff) indented below it.
export function tagged(term, body) {
  return body === '' ? ['.TP', term, '\\&'].join('\n') : ['.TP', term, body].join('\n');
}

// Splits Markdown into blocks: heading, code, table, list (items with nested blocks), paragraph.
export function blocks(md) {
  const src = md.replace(/\r\n/g, '\n').split('\n');
  const out = [];
  let i = 0;
  const isItem = (l) => /^(\s*)([-*]|\d+\.) /.exec(l);
  while (i < src.length) {
    const l = src[i];
    if (l.trim() === '' || l.trim() === '---') {
      i++;
      continue;
    }
    const fence = /^\s*```(\S*)/.exec(l);
    if (fence) {
      const code = [];
      for (i++; i < src.length && !/^\s*```/.test(src[i]); i++) code.push(src[i]);
      i++;
      out.push({ kind: 'code', lang: fence[1], text: code.join('\n') });
      continue;
    }
    const heading = /^(#+)\s+(.*)$/.exec(l);
    if (heading) {
      out.push({ kind: 'heading', level: heading[1].length, text: heading[2] });
      i++;
      continue;
    }
    if (l.trimStart().startsWith('|')) {
      const rows = [];
      for (; i < src.length && src[i].trimStart().startsWith('|'); i++) rows.push(cells(src[i]));
      const [head, sep, ...body] = rows;
      if (!sep || !sep.every((c) => /^:?-+:?$/.test(c))) throw new Error(`not a Markdown table: ${l}`);
      out.push({ kind: 'table', head, rows: body });
      continue;
    }
    const item = isItem(l);
    if (item) {
      const base = item[1].length;
      const items = [];
      while (i < src.length) {
        const m = isItem(src[i]);
        if (m && m[1].length === base) {
          const textIndent = base + m[2].length + 1;
          const body = [src[i].slice(textIndent)];
          for (i++; i < src.length; i++) {
            const next = src[i];
            if (next.trim() === '') {
              // A blank line ends the list unless the next line is indented into the item.
              const after = src[i + 1];
              if (after !== undefined && after.length - after.trimStart().length > base && after.trim() !== '') {
                body.push('');
                continue;
              }
              break;
            }
            const nm = isItem(next);
            if (nm && nm[1].length <= base) break;
            if (!nm && next.length - next.trimStart().length <= base && !/^\s/.test(next)) break;
            body.push(next.length - next.trimStart().length >= textIndent ? next.slice(textIndent) : next.trimStart());
          }
          items.push(blocks(body.join('\n')));
          continue;
        }
        break;
      }
      out.push({ kind: 'list', items });
      continue;
    }
    const para = [];
    for (; i < src.length; i++) {
      const p = src[i];
      if (p.trim() === '' || /^\s*```/.test(p) || /^#+\s/.test(p) || p.trimStart().startsWith('|')) break;
      if (para.length > 0 && isItem(p)) break;
      para.push(p.trim());
    }
    out.push({ kind: 'paragraph', text: para.join(' ') });
  }
  return out;
}

function cells(row) {
  const inner = row.trim().replace(/^\|/, '').replace(/\|$/, '');
  const parts = [];
  let cur = '';
  let code = false;
  for (let k = 0; k < inner.length; k++) {
    const c = inner[k];
    if (c === '\\' && inner[k + 1] === '|') {
      cur += '|';
      k++;
    } else if (c === '`') {
      code = !code;
      cur += c;
    } else if (c === '|' && !code) {
      parts.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  parts.push(cur.trim());
  return parts;
}

// Markdown blocks as man(7). Headings become .SS (a level at or above `sectionLevel`) or a bold line; tables become
// tagged paragraphs, the first column the tag; `anchors` is passed to inline().
export function markdownToRoff(md, opts = {}) {
  return blocksToRoff(blocks(md), opts);
}

// Blocks (see blocks()) as man(7), with the options of markdownToRoff().
export function blocksToRoff(bs, { sectionLevel = 3, anchors } = {}) {
  const md = (text) => inline(text, anchors);
  const out = [];
  for (const b of bs) {
    switch (b.kind) {
      case 'heading':
        out.push(b.level <= sectionLevel ? `.SS "${md(b.text).replace(/"/g, '\\(dq')}"` : `.PP\n\\fB${md(b.text)}\\fR`);
        break;
      case 'paragraph':
        out.push(`.PP\n${md(b.text)}`);
        break;
      case 'code':
        out.push(codeBlock(b.text));
        break;
      case 'table':
        for (const row of b.rows) {
          const rest = row.slice(1);
          const body =
            rest.length === 1
              ? md(rest[0])
              : rest.map((c, k) => `\\fI${md(b.head[k + 1] ?? '')}\\fR: ${md(c)}`).join('\n.br\n');
          out.push(tagged(md(row[0] ?? ''), body));
        }
        break;
      case 'list':
        for (const item of b.items) {
          const [first, ...more] = item;
          out.push('.IP \\(bu 2');
          if (first?.kind === 'paragraph') out.push(md(first.text));
          else if (first) more.unshift(first);
          if (more.length > 0)
            out.push('.RS 2', blocksToRoff(more, { sectionLevel, anchors }).replace(/^\.PP\n/, ''), '.RE');
        }
        break;
    }
  }
  return out.join('\n');
}
