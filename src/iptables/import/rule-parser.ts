import { readComment } from '../comment.js';
import type { ParsedRule, Statistic } from './parsed-rule.js';
import { readAddress, readEndpoint, readHost, readMasked, readPortRange, readU32 } from './rule-values.js';

// Reads the words of one -A line into a rule record; anything outside the options nftlb knows, or a value no config can
// carry, throws an Error whose message is the reason the line is listed.

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
export function parseRule(words: string[], file: string, line: number, text: string, table: string): ParsedRule {
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
