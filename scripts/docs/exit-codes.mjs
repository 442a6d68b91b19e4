// The exit codes of nftlb with their meanings, read from src/cli/exit-codes.ts: the values of the EXIT object and the
// doc comment above each. A code without a doc comment is an error, so a new code cannot reach the man page unexplained.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

function docComment(text, node) {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const docs = ranges
    .map((r) => text.slice(r.pos, r.end))
    .filter((c) => c.startsWith('/**'))
    .map((c) =>
      c
        .replace(/^\/\*\*/, '')
        .replace(/\*\/$/, '')
        .split('\n')
        .map((l) => l.replace(/^\s*\* ?/, '').trim())
        .join(' ')
        .trim(),
    );
  return docs.at(-1) ?? null;
}

// [{ name, code, doc }] in source order, from the `EXIT` object literal of the given file.
export function exitCodes(file) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  let literal = null;
  const visit = (n) => {
    if (ts.isVariableDeclaration(n) && n.name.getText(source) === 'EXIT' && n.initializer) {
      let init = n.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init))
        init = init.expression;
      if (ts.isObjectLiteralExpression(init)) literal = init;
    }
    ts.forEachChild(n, visit);
  };
  visit(source);
  if (literal === null) throw new Error(`${file}: no EXIT object literal`);
  return literal.properties.map((p) => {
    if (!ts.isPropertyAssignment(p) || !ts.isNumericLiteral(p.initializer))
      throw new Error(`${file}: EXIT.${p.name?.getText(source)} is not a number literal`);
    const name = p.name.getText(source);
    const doc = docComment(text, p);
    if (doc === null) throw new Error(`${file}: EXIT.${name} has no /** doc comment */ for the man page`);
    return { name, code: Number(p.initializer.text), doc };
  });
}
