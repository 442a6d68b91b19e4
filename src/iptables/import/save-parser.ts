import { readComment, type NftlbComment } from '../comment.js';

// Reads iptables-save (or iptables-restore) text into typed rule records, keeping line numbers; anything outside the
// subset nftlb understands is returned as a problem with its line, never dropped.

/** A statistic match. */
export type Statistic =
  | { readonly mode: 'nth'; readonly every: number; readonly packet: number }
  | { readonly mode: 'random'; readonly probability: number };

/** A value/mask pair (`--mark 0x1/0xff`); mask 0xffffffff when none was written. */
export interface Masked {
  readonly value: number;
  readonly mask: number;
}

/** One `-A` line, with the options nftlb knows. */
export interface ParsedRule {
  readonly line: number;
  readonly text: string;
  readonly table: string;
  readonly chain: string;
  dst?: string;
  src?: string;
  proto?: string;
  dports?: string[];
  statistic?: Statistic;
  mark?: Masked;
  connmark?: Masked;
  ctstate?: string[];
  comment?: string;
  /** The comment, when nftlb wrote it. */
  note?: NftlbComment;
  outIf?: string;
  inIf?: string;
  target: string;
  /** Target options without the leading dashes, e.g. { 'to-destination': '198.51.100.2:8080' }. */
  readonly targetOpts: Record<string, string>;
}

/** A line that could not be read, or a rule that is not part of any recognised recipe. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly reason: string;
  /** `table:chain` of an -A line that could not be read, so the chain's recipe is known to be incomplete. */
  readonly chain?: string;
}

/** Every rule of one input file. */
export interface ParsedFile {
  readonly file: string;
  readonly rules: ParsedRule[];
  readonly problems: Problem[];
}

// Splits a rule line into words; double quotes group words (iptables-save quotes comments).
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

const num = (s: string | undefined): number => {
  if (s === undefined || !/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s))
    throw new Error(`expected a number, got ${s ?? 'nothing'}`);
  return Number(s);
};

const masked = (s: string | undefined): Masked => {
  const [v, m] = (s ?? '').split('/');
  return { value: num(v), mask: m === undefined ? 0xffffffff : num(m) };
};

const MATCH_OPTS = new Set([
  '--dport',
  '--destination-port',
  '--dports',
  '--destination-ports',
  '--mode',
  '--every',
  '--packet',
  '--probability',
  '--mark',
  '--ctstate',
  '--state',
  '--comment',
]);

// Parses the words after `-A CHAIN`.
function parseRule(words: string[], line: number, text: string, table: string): ParsedRule {
  const rule: ParsedRule = { line, text, table, chain: words[1]!, target: '', targetOpts: {} };
  let module = '';
  let stat: { mode?: string; every?: number; packet?: number; probability?: number } | undefined;
  for (let i = 2; i < words.length; i++) {
    const w = words[i]!;
    const next = (): string => {
      const v = words[++i];
      if (v === undefined) throw new Error(`${w} needs a value`);
      return v;
    };
    if (w === '!') throw new Error('negated matches are not understood');
    if (rule.target !== '') {
      if (!w.startsWith('--')) throw new Error(`unexpected word ${w}`);
      const v = words[i + 1];
      if (v === undefined || v.startsWith('--')) rule.targetOpts[w.slice(2)] = '';
      else rule.targetOpts[w.slice(2)] = next();
      continue;
    }
    switch (w) {
      case '-d':
      case '--destination':
        rule.dst = next();
        break;
      case '-s':
      case '--source':
        rule.src = next();
        break;
      case '-p':
      case '--protocol':
        rule.proto = next();
        break;
      case '-o':
      case '--out-interface':
        rule.outIf = next();
        break;
      case '-i':
      case '--in-interface':
        rule.inIf = next();
        break;
      case '-m':
      case '--match':
        module = next();
        if (module === 'statistic') stat = {};
        break;
      case '-j':
      case '--jump':
      case '-g':
        rule.target = next();
        break;
      default: {
        if (!MATCH_OPTS.has(w)) throw new Error(`option ${w} is not understood`);
        const v = next();
        if (w === '--dport' || w === '--destination-port') rule.dports = [v];
        else if (w === '--dports' || w === '--destination-ports') rule.dports = v.split(',');
        else if (w === '--mode') stat!.mode = v;
        else if (w === '--every') stat!.every = num(v);
        else if (w === '--packet') stat!.packet = num(v);
        else if (w === '--probability') stat!.probability = Number(v);
        else if (w === '--mark' && module === 'connmark') rule.connmark = masked(v);
        else if (w === '--mark') rule.mark = masked(v);
        else if (w === '--ctstate' || w === '--state') rule.ctstate = v.split(',');
        else rule.comment = v;
      }
    }
  }
  if (stat !== undefined) {
    if (stat.mode === 'nth' && stat.every !== undefined)
      rule.statistic = { mode: 'nth', every: stat.every, packet: stat.packet ?? 0 };
    else if (stat.mode === 'random' && stat.probability !== undefined && stat.probability > 0 && stat.probability <= 1)
      rule.statistic = { mode: 'random', probability: stat.probability };
    else throw new Error('statistic match without a usable mode');
  }
  if (rule.target === '') throw new Error('rule without a target (-j)');
  if (rule.comment !== undefined) {
    const note = readComment(rule.comment);
    if (note?.kind === 'malformed') throw new Error(note.reason);
    rule.note = note;
  }
  return rule;
}

// Reads one iptables-save / iptables-restore text.
export function parseSave(file: string, text: string): ParsedFile {
  const rules: ParsedRule[] = [];
  const problems: Problem[] = [];
  let table = '';
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t === 'COMMIT') return;
    if (t.startsWith('*')) {
      table = t.slice(1);
      return;
    }
    // Chain declarations, creation and flushes carry no behaviour of their own.
    if (t.startsWith(':') || /^-[NFX] \S+$/.test(t)) return;
    const words = tokenize(t);
    if (words[0] !== '-A' || words[1] === undefined || table === '') {
      problems.push({
        file,
        line,
        text: t,
        reason: table === '' ? 'outside a *table section' : 'only -A rules are understood',
      });
      return;
    }
    try {
      rules.push(parseRule(words, line, t, table));
    } catch (e) {
      problems.push({ file, line, text: t, reason: (e as Error).message, chain: `${table}:${words[1]}` });
    }
  });
  return { file, rules, problems };
}
