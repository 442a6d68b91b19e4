import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { EXIT } from '../../src/cli/exit-codes.js';
import { buildProgram } from '../../src/cli/program.js';
import { configSchema } from '../../src/config/schema.js';

// The man pages and shell completions are generated (scripts/gen-docs.mjs, make man / make completion); these tests
// keep the committed files equal to what the generator writes now, and check them against the program, the exit
// codes, the variables src/ reads and the schema independently of the generator's own code.

const read = (p: string): string => readFileSync(p, 'utf8');
const man8 = read('man/nftlb.8');
const man5 = read('man/nftlb.conf.5');
const BASH = 'templates/completion/nftlb.bash';
const ZSH = 'templates/completion/_nftlb';

// roff spells - as \- in literal text.
const roff = (s: string): string => s.replace(/-/g, '\\-');

// The text of a man page section (.SH NAME) or subsection (.SS "NAME ...") up to the next heading of its level.
function section(page: string, head: RegExp, next: RegExp): string {
  const m = head.exec(page);
  if (!m) return '';
  const rest = page.slice(m.index + m[0].length);
  const end = next.exec(rest);
  return end ? rest.slice(0, end.index) : rest;
}

const quiet = { io: { out: () => {}, err: () => {} }, env: {}, exit: () => {} };
function commands(c: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  return c.commands.flatMap((s) => [{ path: [...path, s.name()], cmd: s }, ...commands(s, [...path, s.name()])]);
}

// Runs the generated bash completion for the words of a command line (the last one is completed) and returns
// COMPREPLY. Words are given as bash would split them: --format=x is three words, --format, = and x.
async function complete(words: string[]): Promise<string[]> {
  const r = await execa(
    'bash',
    [
      '--norc',
      '-c',
      `source ${resolve(BASH)}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nftlb; printf '%s\\n' "\${COMPREPLY[@]}"`,
      '_',
      'nftlb',
      ...words,
    ],
    { cwd: resolve('fixtures') },
  );
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('the committed man pages and completions are what `make man` and `make completion` write now', async (t) => {
  const { generateDocs } = (await import(pathToFileURL(resolve('scripts/gen-docs.mjs')).href)) as {
    generateDocs: () => Promise<Map<string, string>>;
  };
  const docs = await generateDocs();
  t.deepEqual([...docs.keys()].sort(), ['man/nftlb.8', 'man/nftlb.conf.5', ZSH, BASH].sort());
  for (const [path, text] of docs) t.true(read(path) === text, `${path} is out of date: run make man completion`);
});

test('nftlb(8) has a subsection for every command, with every option of it', (t) => {
  const program = buildProgram(quiet);
  const all = commands(program);
  t.true(all.length >= 10);
  for (const { path, cmd } of all) {
    const title = roff(['nftlb', ...path].join(' ')).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
    const sub = section(man8, new RegExp(`^\\.SS "${title}\\b.*$`, 'm'), /^\.S[SH] /m);
    t.not(sub, '', `no subsection for nftlb ${path.join(' ')}`);
    t.true(man8.includes(roff(`nftlb ${path.join(' ')}`)), `nftlb ${path.join(' ')} is not in the SYNOPSIS`);
    for (const o of cmd.options) {
      for (const flag of [o.short, o.long].filter((f): f is string => f !== undefined))
        t.true(sub.includes(`\\fB${roff(flag)}\\fR`), `nftlb ${path.join(' ')} ${flag} is not in its subsection`);
      // Descriptions are prose: roff escapes only their backslashes.
      t.true(sub.includes(o.description.slice(1, 30)), `nftlb ${path.join(' ')} ${o.flags}: description missing`);
    }
  }
  for (const o of program.options) t.true(man8.includes(`\\fB${roff(o.long!)}\\fR`), `${o.flags} not in OPTIONS`);
});

test('nftlb(8) EXIT STATUS lists every exit code once', (t) => {
  const exit = section(man8, /^\.SH EXIT STATUS$/m, /^\.SH /m);
  const listed = [...exit.matchAll(/^\.TP\n\\fB(\d+)\\fR$/gm)].map((m) => Number(m[1]));
  t.deepEqual(
    listed,
    [...new Set(Object.values(EXIT))].sort((a, b) => a - b),
  );
});

test('nftlb(8) ENVIRONMENT documents every NFTLB_ variable that src/ reads', (t) => {
  const env = section(man8, /^\.SH ENVIRONMENT$/m, /^\.SH /m);
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  const read = new Set(
    files('src').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/env\[['"](NFTLB_\w+)['"]\]/g)].map((m) => m[1]!)),
  );
  t.true(read.size >= 4);
  for (const v of read) t.regex(env, new RegExp(`^\\.B ${v}$`, 'm'), `${v} is read in src/ but not in ENVIRONMENT`);
});

test('nftlb.conf(5) KEYS has every key of the JSON Schema, with its description', (t) => {
  const keys = section(man5, /^\.SH KEYS$/m, /^\.SH /m);
  const seen = new Set<object>();
  const walk = (node: Record<string, unknown>): void => {
    if (seen.has(node)) return;
    seen.add(node);
    const props = (node['properties'] ?? {}) as Record<string, Record<string, unknown>>;
    for (const [key, prop] of Object.entries(props)) {
      t.true(keys.includes(`\\fB${roff(key)}\\fR`) || keys.includes(`.${roff(key)}\\fR`), `key ${key} missing`);
      const d = prop['description'];
      if (typeof d === 'string')
        t.true(keys.includes(d.slice(0, 40).replace(/\\/g, '\\e')), `${key}: description missing`);
    }
    for (const v of [...Object.values(props), node['items'], ...((node['oneOf'] as unknown[]) ?? [])])
      if (v && typeof v === 'object') walk(v as Record<string, unknown>);
  };
  walk(configSchema as unknown as Record<string, unknown>);
  for (const def of Object.values(configSchema.definitions)) walk(def as unknown as Record<string, unknown>);
});

test('both man pages format without a groff warning', async (t) => {
  for (const page of ['man/nftlb.8', 'man/nftlb.conf.5']) {
    const r = await execa('groff', ['-man', '-ww', '-z', '-Tutf8', page], { reject: false });
    t.is(r.exitCode, 0, r.stderr);
    t.is(r.stderr, '', `${page}: ${r.stderr}`);
  }
});

test('bash completion offers commands, options, option values and files', async (t) => {
  const program = buildProgram(quiet);
  t.deepEqual(await complete(['ap']), ['apply']);
  t.deepEqual(await complete(['']), [...program.commands.map((c) => c.name()), 'help']);
  for (const { path, cmd } of commands(program)) {
    const offered = await complete([...path, '-']);
    for (const o of cmd.options) for (const f of [o.short, o.long]) if (f) t.true(offered.includes(f), `${path} ${f}`);
  }
  t.deepEqual(await complete(['render', '-f', '']), [
    'nft',
    'iptables',
    'ip6tables',
    'bird',
    'keepalived',
    'conntrackd',
  ]);
  t.deepEqual(await complete(['render', '--format', '=', 'ip']), ['iptables', 'ip6tables']);
  t.deepEqual(await complete(['import', '']), ['iptables']);
  // Values of options and arguments that name files complete to files (run in fixtures/).
  t.true((await complete(['check', '-c', 'exa'])).includes('examples'));
  t.true((await complete(['import', 'iptables', 'exa'])).includes('examples'));
  // The option's value is skipped when finding the command: -c render is a file, not a command.
  t.deepEqual(await complete(['check', '-c', 'x', '--js']), ['--json']);
  // An argument's choices, at its own position: every argument with choices, after the arguments before it.
  const withChoices = commands(program).flatMap(({ path, cmd }) =>
    cmd.registeredArguments.flatMap((a, i) => (a.argChoices ? [{ path, i, choices: a.argChoices }] : [])),
  );
  t.true(withChoices.length > 0);
  for (const { path, i, choices } of withChoices)
    t.deepEqual(await complete([...path, ...Array<string>(i).fill('x'), '']), choices, path.join(' '));
  t.deepEqual(await complete(['cluster', 'notify', '--node', 'n1', 'b']), ['backup']);
  t.deepEqual(await complete(['cluster', 'notify', 'master', '']), []);
});

async function needZsh(t: ExecutionContext): Promise<boolean> {
  const r = await execa('zsh', ['--version'], { reject: false });
  if (r.exitCode === 0) return true;
  if (process.env['CI'] === 'true') t.fail('zsh is not installed (scripts/setup.sh test installs it as root)');
  else {
    t.log('ZSH TEST SKIPPED: zsh is not installed');
    t.pass();
  }
  return false;
}

test('zsh completion parses (zsh -n) and defines a function per command', async (t) => {
  if (!(await needZsh(t))) return;
  const r = await execa('zsh', ['-n', ZSH], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  const text = read(ZSH);
  t.true(text.startsWith('#compdef nftlb\n'));
  for (const { path } of commands(buildProgram(quiet)))
    t.regex(text, new RegExp(`^_nftlb__${path.join('__').replace(/-/g, '_')}\\(\\) \\{$`, 'm'));
});

// Drives zsh's completion system in a pseudo-terminal (zpty): types each line, presses TAB, then a key bound to a
// widget that prints the edited line. Each read waits for its marker; the whole run is bounded by execa's timeout.
const ZPTY = `
zmodload zsh/zpty
fp=$1; shift
for line in "$@"; do
  zpty z zsh -f -i
  zpty -w z "fpath=($fp \\$fpath); autoload -U compinit; compinit -u -D; dump() { zle -I; print -r -- \\"BUF<\\$BUFFER>\\"; }; zle -N dump; bindkey '^X' dump; PS1='RE''ADY> '"
  zpty -r z junk '*READY> '
  zpty -n -w z "$line"$'\\t\\C-X'
  zpty -r z out '*BUF<*>*'
  print -r -- "\${\${out##*BUF<}%%>*}"
  zpty -d z
done
`;

test('zsh completion completes commands, options, option values and files (compinit, in a pty)', async (t) => {
  if (!(await needZsh(t))) return;
  const cases: [string, string][] = [
    ['nftlb ap', 'nftlb apply '],
    ['nftlb st', 'nftlb status '],
    ['nftlb render -f ip6', 'nftlb render -f ip6tables '],
    ['nftlb render --fo', 'nftlb render --format '],
    ['nftlb import ', 'nftlb import iptables '],
    ['nftlb health --state', 'nftlb health --state-dir '],
    ['nftlb check -c fixtures/exa', 'nftlb check -c fixtures/examples/'],
  ];
  const r = await execa('zsh', ['-f', '-c', ZPTY, 'zsh', resolve('templates/completion'), ...cases.map(([l]) => l)], {
    reject: false,
    timeout: 120_000,
  });
  t.is(r.exitCode, 0, `${r.stderr}\n${r.stdout}`);
  t.deepEqual(
    r.stdout.split('\n').map((l) => l.replace(/\r/g, '')),
    cases.map(([, want]) => want),
  );
});
