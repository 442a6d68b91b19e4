import { listenerKey, type ParsedFile, type ParsedRule, type Problem } from './parsed-rule.js';
import { parseRule, tokenize } from './rule-parser.js';

// Reads iptables-save (or iptables-restore) text into typed rule records, keeping line numbers; anything outside the
// subset nftlb understands is returned as a problem with its line, never dropped.

// What a line that could not be read still says about its place: the chain it jumps to and the listener it matches.
function placeOfUnread(words: readonly string[], table: string): { jumps?: string; listener?: string } {
  let dst: string | undefined;
  let proto: string | undefined;
  let dports: string | undefined;
  let target: string | undefined;
  for (let i = 2; i < words.length - 1; i++) {
    const w = words[i]!;
    const v = words[i + 1]!;
    if (w === '-d' || w === '--destination') dst = v;
    else if (w === '-p' || w === '--protocol') proto = v;
    else if (w.startsWith('--d') && w.includes('port')) dports = v;
    else if ((w === '-j' || w === '--jump' || w === '-g') && target === undefined) target = v;
  }
  return {
    ...(target === undefined ? {} : { jumps: `${table}:${target}` }),
    ...(dst === undefined || proto === undefined || dports === undefined
      ? {}
      : { listener: listenerKey(words[1]!, dst, proto, dports) }),
  };
}

// Reads one iptables-save / iptables-restore text.
export function parseSave(file: string, text: string): ParsedFile {
  const rules: ParsedRule[] = [];
  const problems: Problem[] = [];
  const declared = new Set<string>();
  let table = '';
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t === 'COMMIT') continue;
    if (t.startsWith('*')) {
      table = t.slice(1);
      continue;
    }
    // Chain declarations, creation and flushes carry no behaviour of their own.
    if (t.startsWith(':') || /^-[NFX] \S+$/.test(t)) {
      if (table !== '' && !t.startsWith('-F') && !t.startsWith('-X'))
        declared.add(`${table}:${t.slice(t.startsWith(':') ? 1 : 3).split(' ')[0]}`);
      continue;
    }
    const words = tokenize(t);
    if (words[0] !== '-A' || words[1] === undefined || table === '') {
      problems.push({
        file,
        line,
        text: t,
        reason: table === '' ? 'outside a *table section' : 'only -A rules are understood',
      });
      continue;
    }
    try {
      rules.push(parseRule(words, file, line, t, table));
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      problems.push({ file, line, text: t, reason, chain: `${table}:${words[1]}`, ...placeOfUnread(words, table) });
    }
  }
  return { file, rules, problems, declared };
}
