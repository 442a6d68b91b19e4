// nftlb(8): the hand-written man/nftlb.8.in with its generated parts: SYNOPSIS, COMMANDS and OPTIONS from the
// commander program tree, EXIT STATUS from src/cli/exit-codes.ts; the ENVIRONMENT section is checked against the
// variables src/ reads.
import { allCommands, leafCommands } from './program-tree.mjs';
import { bold, escape, inline, italic, literal, tagged } from './roff.mjs';
import { fill } from './template.mjs';

const sentence = (s) => {
  const t = s.trim();
  if (t === '') return t;
  return `${t[0].toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
};

const isHelp = (o) => o.long === '--help';

function optionTerm(o) {
  const names = [o.short, o.long].filter((n) => n !== null).map(bold);
  const value = o.value === null ? '' : ` ${o.valueOptional ? `[${italic(o.value)}]` : italic(o.value)}`;
  return `${names.join(', ')}${value}`;
}

function optionBody(o) {
  const parts = [inline(sentence(o.description))];
  if (o.choices !== null) parts.push(`One of: ${o.choices.map(bold).join(', ')}.`);
  if (o.default !== null) parts.push(`Default: ${bold(o.default)}.`);
  return parts.join(' ');
}

function argumentTerm(a) {
  const name = `${a.choices === null ? italic(a.name) : a.choices.map(bold).join('|')}${a.variadic ? '...' : ''}`;
  return a.required ? name : `[${name}]`;
}

// One synopsis line per command the user runs: its name, options (a value's choices spelled out) and arguments.
function synopsis(tree) {
  const out = [];
  for (const c of leafCommands(tree)) {
    const words = [bold(['nftlb', ...c.path].join(' '))];
    for (const o of c.options) {
      if (isHelp(o)) continue;
      const name = bold(o.short ?? o.long);
      // A mandatory option is written without brackets, as a required argument is.
      const optional = (w) => (o.mandatory ? w : `[${w}]`);
      if (o.value === null) words.push(optional(name));
      else if (o.choices !== null) words.push(optional(`${name} ${o.choices.map(bold).join('|')}`));
      else words.push(optional(`${name} ${italic(o.value)}`));
    }
    if (c.implicitHelp) words.push(`[${italic('command')}]`);
    else for (const a of c.arguments) words.push(argumentTerm(a));
    out.push(`${words.join(' ')}\n.br`);
  }
  const global = tree.options.map((o) => bold(o.short ?? o.long)).join(' | ');
  out.push(`${bold('nftlb')} ${global}`);
  return `.ad l\n${out.join('\n')}\n.ad`;
}

// A subsection per command: its description, its arguments and options (help aside: see OPTIONS).
function commands(tree) {
  const out = [];
  for (const c of allCommands(tree)) {
    if (c.path.length === 0) continue;
    const head = ['nftlb', ...c.path].join(' ');
    const args = c.implicitHelp
      ? ' [command]'
      : c.arguments
          .map((a) => {
            const n = `${a.name}${a.variadic ? '...' : ''}`;
            return ` ${a.required ? n : `[${n}]`}`;
          })
          .join('');
    const opts = c.options.some((o) => !isHelp(o)) ? ' [options]' : '';
    const sub = c.commands.length > 0 ? ' command' : '';
    out.push(`.SS "${literal(`${head}${opts}${sub}${args}`)}"`);
    out.push(inline(sentence(c.description)));
    if (c.implicitHelp)
      out.push(
        '.PP',
        `With a ${italic('command')}, the same as ${bold('nftlb')} ${italic('command')} ${bold('--help')}.`,
      );
    if (c.commands.length > 0)
      out.push('.PP', `Commands: ${c.commands.map((s) => bold(`${head} ${s.name}`)).join(', ')}.`);
    for (const a of c.arguments)
      if (!c.implicitHelp) out.push(tagged(argumentTerm(a), inline(sentence(a.description || a.name))));
    for (const o of c.options) if (!isHelp(o)) out.push(tagged(optionTerm(o), optionBody(o)));
  }
  return out.join('\n');
}

function globalOptions(tree) {
  return tree.options
    .map((o) =>
      tagged(
        optionTerm(o),
        isHelp(o)
          ? `${inline(sentence(o.description))} After a command (${bold('nftlb apply --help')}): that command's options.`
          : inline(sentence(o.description)),
      ),
    )
    .join('\n');
}

function exitStatus(codes) {
  // The doc comments are sentences already (some begin with a program's name, in lower case).
  return codes.map((c) => tagged(bold(String(c.code)), inline(c.doc))).join('\n');
}

// The NFTLB_* names the template's ENVIRONMENT section documents (its .TP tags).
function documentedEnv(template) {
  const m = /^\.SH ENVIRONMENT\n([\s\S]*?)(?=^\.SH )/m.exec(template);
  if (!m) throw new Error('man/nftlb.8.in: no ENVIRONMENT section');
  return new Set([...m[1].matchAll(/^\.TP\n\.B (NFTLB_[A-Z0-9_]+)/gm)].map((x) => x[1]));
}

// nftlb(8) as roff, from the template, the program tree, the exit codes and the NFTLB_* variables src/ reads.
export function nftlbManPage({ template, tree, codes, envRead }) {
  const documented = documentedEnv(template);
  const missing = [...envRead.keys()].filter((v) => !documented.has(v));
  if (missing.length > 0)
    throw new Error(
      `man/nftlb.8.in: ENVIRONMENT does not document ${missing.join(', ')} (read in ${missing.map((v) => envRead.get(v).join(', ')).join('; ')})`,
    );
  const stale = [...documented].filter((v) => !envRead.has(v));
  if (stale.length > 0)
    throw new Error(`man/nftlb.8.in: ENVIRONMENT documents ${stale.join(', ')}, which src/ no longer reads`);
  const description = tree.description.replace(/\.$/, '');
  return fill(
    template,
    {
      VERSION: escape(tree.version),
      NAME_LINE: escape(`${description[0].toLowerCase()}${description.slice(1)}`),
      SYNOPSIS: synopsis(tree),
      COMMANDS: commands(tree),
      GLOBAL_OPTIONS: globalOptions(tree),
      EXIT_STATUS: exitStatus(codes),
    },
    'man/nftlb.8.in',
  );
}
