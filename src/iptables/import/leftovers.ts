import { plainJump, type ChainIndex } from './chain-index.js';
import type { ParsedFile, ParsedRule, Problem } from './parsed-rule.js';

// The rules of a file that no service took: plumbing without a config equivalent is reported as ignored (nothing is
// lost), everything else is listed as not understood, with the most telling reason.

// Chains reached (through jumps, transitively) from a line listed as not understood, with that line.
function reachedFromProblems(index: ChainIndex, problems: readonly Problem[], file: string): Map<string, Problem> {
  const reached = new Map<string, Problem>();
  const queue: string[] = [];
  for (const p of problems)
    if (p.file === file && p.jumps !== undefined && !reached.has(p.jumps)) {
      reached.set(p.jumps, p);
      queue.push(p.jumps);
    }
  while (queue.length > 0) {
    const key = queue.pop()!;
    const colon = key.indexOf(':');
    const origin = reached.get(key)!;
    for (const r of index.rules(key.slice(0, colon), key.slice(colon + 1))) {
      const next = `${r.table}:${r.target}`;
      if (!reached.has(next) && index.has(r.table, r.target)) {
        reached.set(next, origin);
        queue.push(next);
      }
    }
  }
  return reached;
}

// Chains a hook reaches only through a rule no service took (a jump on a condition), with the first such rule.
function reachedThroughLeftovers(index: ChainIndex, used: ReadonlySet<ParsedRule>): Map<string, ParsedRule> {
  const reached = new Map<string, ParsedRule>();
  const queue: string[] = [];
  for (const [table, chain, rules] of index.chains()) {
    if (!index.hooked(table, chain)) continue;
    for (const r of rules) {
      const next = `${r.table}:${r.target}`;
      if (used.has(r) || !index.has(r.table, r.target) || index.hooked(r.table, r.target) || reached.has(next))
        continue;
      reached.set(next, r);
      queue.push(next);
    }
  }
  while (queue.length > 0) {
    const from = queue.pop()!;
    const colon = from.indexOf(':');
    for (const r of index.rules(from.slice(0, colon), from.slice(colon + 1))) {
      const next = `${r.table}:${r.target}`;
      if (index.has(r.table, r.target) && !index.hooked(r.table, r.target) && !reached.has(next)) {
        reached.set(next, reached.get(from)!);
        queue.push(next);
      }
    }
  }
  return reached;
}

// Reports every rule of the file not in `used`: as ignored (no config equivalent) or not understood.
export function listLeftovers(
  f: ParsedFile,
  index: ChainIndex,
  used: ReadonlySet<ParsedRule>,
  problems: Problem[],
  ignored: Problem[],
): void {
  const reached = reachedFromProblems(index, problems, f.file);
  const through = reachedThroughLeftovers(index, used);
  const report = (list: Problem[], r: ParsedRule, reason: string): void => {
    list.push({ file: f.file, line: r.line, text: r.text, reason });
  };
  for (const r of f.rules) {
    if (used.has(r)) continue;
    const origin = reached.get(`${r.table}:${r.chain}`);
    if (index.unreadIn(r.table, r.chain) !== undefined)
      report(problems, r, `chain ${r.chain} has rules that are not understood`);
    else if (origin !== undefined)
      report(problems, r, `chain ${r.chain} is reached from line ${origin.line}, which is not understood`);
    else if (through.has(`${r.table}:${r.chain}`))
      report(
        problems,
        r,
        `chain ${r.chain} is reached from line ${through.get(`${r.table}:${r.chain}`)!.line}, which is not understood`,
      );
    else if (!index.reachable(r.table, r.chain))
      report(ignored, r, `chain ${r.chain} is reached from no hook: its rules never see a packet`);
    else if (plainJump(r) && index.exists(r.table, r.target))
      continue; // a hook jump into another chain
    else if (r.table === 'filter' && r.target === 'ACCEPT')
      report(ignored, r, 'forward/input accept: nftlb configs have no filter; conntrack and DNAT need no accept rule');
    else if (
      r.target === 'CONNMARK' &&
      (r.targetOpts['restore-mark'] !== undefined || r.targetOpts['save-mark'] !== undefined) &&
      r.dst === undefined
    )
      report(ignored, r, 'CONNMARK stickiness: nftlb keeps each connection on its backend through conntrack');
    else if ((r.target === 'MASQUERADE' || r.target === 'SNAT') && r.connmark !== undefined)
      report(problems, r, `source NAT for ct mark 0x${r.connmark.value.toString(16)}, which no imported backend sets`);
    else report(problems, r, 'not part of a recognised load-balancing recipe');
  }
}
