import type { Address, PortRange } from '../../model/types.js';
import { readComment, type NftlbComment } from '../comment.js';
import {
  readAddress,
  readEndpoint,
  readHost,
  readMasked,
  readPortRange,
  readU32,
  type Endpoint,
  type Masked,
} from './rule-values.js';

// Reads iptables-save (or iptables-restore) text into typed rule records, keeping line numbers; anything outside the
// subset nftlb understands is returned as a problem with its line, never dropped.

/** A statistic match. */
export type Statistic =
  | { readonly mode: 'nth'; readonly every: number; readonly packet: number }
  | { readonly mode: 'random'; readonly probability: number };

/** One `-A` line, with the options nftlb knows. */
export interface ParsedRule {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly table: string;
  readonly chain: string;
  dst?: string;
  /** The destination, when it is one host (the VIP of a listener). */
  vip?: Address;
  src?: string;
  proto?: string;
  dports?: PortRange[];
  /** The --dport(s) value as written, for keys and derived names. */
  dportsText?: string;
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
  /** DNAT: where to. */
  to?: Endpoint;
  /** SNAT: the source address. */
  toSource?: Address;
  /** CONNMARK --set-xmark / --set-mark: the ct mark it sets. */
  connmarkSet?: Masked;
}

/** A line that could not be read, or a rule that is not part of any recognised recipe. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly reason: string;
  /** `table:chain` of an -A line that could not be read, so the chain's recipe is known to be incomplete. */
  readonly chain?: string;
  /** `table:chain` the line jumps to, so what that chain holds is known to be reached from a rule not understood. */
  readonly jumps?: string;
  /** The listener the line matches (listenerKey), so the other rules of an inline pool are known to be incomplete. */
  readonly listener?: string;
}

/** Every rule of one input file. */
export interface ParsedFile {
  readonly file: string;
  readonly rules: ParsedRule[];
  readonly problems: Problem[];
  /** `table:chain` of every chain declared (`:NAME ...`, `-N NAME`), with or without rules. */
  readonly declared: Set<string>;
}

// Splits a rule line into words; double quotes group words (iptables-save quotes comments).
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text))
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

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
const STATISTIC_OPTS = new Set(['--mode', '--every', '--packet', '--probability']);
const PROBABILITY = /^(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})$/;

// A rule that matches every packet that reaches it (a protocol match aside): a hook jump, a backend chain's DNAT.
export function matchesAll(r: ParsedRule): boolean {
  return (
    r.dst === undefined &&
    r.src === undefined &&
    r.dports === undefined &&
    r.statistic === undefined &&
    r.mark === undefined &&
    r.connmark === undefined &&
    r.ctstate === undefined &&
    r.inIf === undefined &&
    r.outIf === undefined
  );
}

// The key of the listener a rule matches: the rules of one inline pool share it.
export function listenerKey(chain: string, dst: string, proto: string, dports: string): string {
  return `${chain} ${dst} ${proto} ${dports}`;
}

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

// Reads the statistic options of a rule.
function statisticOf(stat: { mode?: string; every?: string; packet?: string; probability?: string }): Statistic {
  if (stat.mode === 'nth') {
    const every = readU32(stat.every, '--every');
    if (every < 1) throw new Error('--every 0: a statistic nth match needs --every 1 or more');
    const packet = stat.packet === undefined ? 0 : readU32(stat.packet, '--packet');
    if (packet >= every) throw new Error(`--packet ${packet} is not below --every ${every}: the rule never matches`);
    return { mode: 'nth', every, packet };
  }
  if (stat.mode === 'random') {
    const text = stat.probability ?? '';
    const probability = PROBABILITY.test(text) ? Number(text) : NaN;
    if (!(probability > 0 && probability <= 1))
      throw new Error(`--probability ${text === '' ? 'missing' : text}: expected a number above 0 and at most 1`);
    return { mode: 'random', probability };
  }
  throw new Error(
    stat.mode === undefined ? 'statistic match without --mode' : `statistic --mode ${stat.mode} is not understood`,
  );
}

// Checks and reads the options of the targets whose values nftlb uses.
function readTarget(rule: ParsedRule): void {
  const o = rule.targetOpts;
  switch (rule.target) {
    case 'DNAT':
      if (o['to-destination'] === undefined) throw new Error('DNAT without --to-destination');
      rule.to = readEndpoint(o['to-destination']);
      break;
    case 'SNAT':
      if (o['to-source'] === undefined) throw new Error('SNAT without --to-source');
      rule.toSource = readAddress(o['to-source'], '--to-source');
      break;
    case 'CONNMARK': {
      const set = o['set-xmark'] ?? o['set-mark'];
      if (set !== undefined) rule.connmarkSet = readMasked(set, '--set-xmark');
      break;
    }
    case 'HMARK':
      if (readU32(o['hmark-mod'], '--hmark-mod') < 1) throw new Error('--hmark-mod 0: HMARK needs 1 or more');
      for (const k of ['hmark-offset', 'hmark-rnd']) if (o[k] !== undefined) readU32(o[k], `--${k}`);
      break;
  }
}

// Parses the words after `-A CHAIN`.
function parseRule(words: string[], file: string, line: number, text: string, table: string): ParsedRule {
  const rule: ParsedRule = { file, line, text, table, chain: words[1]!, target: '', targetOpts: {} };
  let module = '';
  let stat: { mode?: string; every?: string; packet?: string; probability?: string } | undefined;
  const given = new Set<string>();
  for (let i = 2; i < words.length; i++) {
    const w = words[i]!;
    const next = (): string => {
      const v = words[++i];
      if (v === undefined) throw new Error(`${w} needs a value`);
      return v;
    };
    if (w === '!') throw new Error('negated matches are not understood');
    if (rule.target !== '') {
      if (!w.startsWith('--') || w.length === 2) throw new Error(`unexpected word ${w}`);
      const key = w.slice(2);
      if (Object.hasOwn(rule.targetOpts, key)) throw new Error(`${w} is given twice`);
      const v = words[i + 1];
      if (v === undefined || v.startsWith('--')) rule.targetOpts[key] = '';
      else rule.targetOpts[key] = next();
      continue;
    }
    switch (w) {
      case '-d':
      case '--destination':
        rule.dst = next();
        rule.vip = readHost(rule.dst);
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
        if (given.has(`${module} ${w}`)) throw new Error(`${w} is given twice`);
        given.add(`${module} ${w}`);
        if (STATISTIC_OPTS.has(w) && (stat === undefined || module !== 'statistic'))
          throw new Error(`option ${w} outside -m statistic`);
        const v = next();
        if (w === '--dport' || w === '--destination-port') rule.dports = [readPortRange(v, w)];
        else if (w === '--dports' || w === '--destination-ports')
          rule.dports = v.split(',').map((p) => readPortRange(p, w));
        else if (w === '--mode') stat!.mode = v;
        else if (w === '--every') stat!.every = v;
        else if (w === '--packet') stat!.packet = v;
        else if (w === '--probability') stat!.probability = v;
        else if (w === '--mark' && module === 'connmark') rule.connmark = readMasked(v, w);
        else if (w === '--mark') rule.mark = readMasked(v, w);
        else if (w === '--ctstate' || w === '--state') rule.ctstate = v.split(',');
        else rule.comment = v;
        if (w.startsWith('--d') && w.includes('port')) rule.dportsText = v;
      }
    }
  }
  if (stat !== undefined) rule.statistic = statisticOf(stat);
  if (rule.target === '') throw new Error('rule without a target (-j)');
  readTarget(rule);
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
