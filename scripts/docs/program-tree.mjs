// The command tree of nftlb as plain data, read from the commander program itself (buildProgram() in
// src/cli/program.ts, compiled to dist/): every visible command, its arguments and its options, as --help shows them.
// The man page and both shell completions are generated from this, so a new command or option needs no edit here.

import { URL } from 'node:url';

// A command context that prints nothing and exits nowhere: building the program runs no command.
const quietContext = {
  io: { out: () => {}, err: () => {} },
  env: {},
  exit: () => {},
};

function optionData(o) {
  const takesValue = o.required || o.optional;
  const value = takesValue ? (/[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? 'value') : null;
  return {
    flags: o.flags,
    short: o.short ?? null,
    long: o.long ?? null,
    value,
    valueOptional: o.optional === true,
    description: o.description ?? '',
    choices: o.argChoices ? [...o.argChoices] : null,
    default:
      takesValue && o.defaultValue !== undefined
        ? (o.defaultValueDescription ??
          (typeof o.defaultValue === 'string' ? o.defaultValue : JSON.stringify(o.defaultValue)))
        : null,
    conflicts: [...(o.conflictsWith ?? [])],
    // requiredOption(): the command refuses to run without it.
    mandatory: o.mandatory === true,
  };
}

function argumentData(a) {
  return {
    name: a.name(),
    required: a.required,
    variadic: a.variadic,
    description: a.description ?? '',
    choices: a.argChoices ? [...a.argChoices] : null,
  };
}

function commandData(cmd, path) {
  const help = cmd.createHelp();
  // commander's implicit `help [command]` is kept at the top only: below it, `-h` says the same.
  const sub = help.visibleCommands(cmd).filter((c) => cmd.commands.includes(c) || path.length === 0);
  return {
    name: cmd.name(),
    path,
    description: cmd.description(),
    arguments: cmd.registeredArguments.map(argumentData),
    options: help.visibleOptions(cmd).map(optionData),
    // The implicit help is a command the user can type; its own help option is left out.
    commands: sub.map((c) =>
      cmd.commands.includes(c)
        ? commandData(c, [...path, c.name()])
        : { ...commandData(c, [...path, c.name()]), implicitHelp: true, options: [] },
    ),
  };
}

// Loads the compiled program and returns its tree: { name, path, description, arguments, options, commands }.
export async function programTree(root) {
  const { buildProgram } = await import(new URL('dist/src/cli/program.js', root).href);
  const program = buildProgram(quietContext);
  return { ...commandData(program, []), version: program.version() };
}

// Every command of the tree, depth first (the root first), each with its full path.
export function allCommands(tree) {
  return [tree, ...tree.commands.flatMap((c) => allCommands(c))];
}

// The commands a user runs: those without subcommands, and the implicit help.
export function leafCommands(tree) {
  return allCommands(tree).filter((c) => c.path.length > 0 && c.commands.length === 0);
}
