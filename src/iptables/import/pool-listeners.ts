import type { Family } from '../../model/types.js';
import { claim, listen, notUnderstood, type FileWork } from './file-work.js';
import type { Choice, ImportedBackend, ImportedPool, ImportedService } from './imported.js';
import { listenerKey, type ParsedRule } from './parsed-rule.js';
import { poolFromChoices } from './pool-scheduler.js';
import {
  addPool,
  derivedName,
  isListener,
  listenerConditions,
  listenerFamily,
  listenerShaped,
  nameOf,
} from './service-table.js';

// Listeners in nat and the pools they lead to: a pool chain, one backend chain, or statistic + DNAT rules written
// inline in the listener's own chain.

// Listeners in nat that jump to a pool chain (or straight to one backend chain); returns the inline ones (statistic +
// DNAT written in the listener's own chain), grouped by listener, for inlineListeners.
export function jumpListeners(w: FileWork): Map<string, ParsedRule[]> {
  const inline = new Map<string, ParsedRule[]>();
  const owner = new Map<string, { s: ImportedService; family: Family } | string>();
  // A listener on a condition a config cannot say (an interface, a mark) is listed, and takes with it the other rules
  // of its listener: iptables sends the matching connections elsewhere, a config could not.
  const conditioned = new Map<string, ParsedRule>();
  for (const r of w.file.rules) {
    if (r.table !== 'nat' || !listenerShaped(r) || !w.index.hooked(r.table, r.chain)) continue;
    const why = listenerConditions(r);
    if (why === undefined) continue;
    notUnderstood(w, r, `a listener on ${why}: a config's listener is a VIP, protocol and port, nothing else`);
    const key = listenerKey(r.chain, r.dst!, r.proto!, r.dportsText!);
    if (!conditioned.has(key)) conditioned.set(key, r);
  }
  for (const r of w.file.rules) {
    if (r.table !== 'nat' || !isListener(r) || !w.index.hooked(r.table, r.chain)) continue;
    const key = listenerKey(r.chain, r.dst!, r.proto!, r.dportsText!);
    const other = conditioned.get(key);
    if (other !== undefined) {
      notUnderstood(w, r, `line ${other.line}, a rule of this listener, is not understood`);
      continue;
    }
    const conditional = r.statistic !== undefined;
    if (r.target === 'DNAT' || (conditional && typeof w.backends.backend(r.target) !== 'string')) {
      const list = inline.get(key);
      if (list === undefined) inline.set(key, [r]);
      else list.push(r);
      continue;
    }
    if (conditional) continue;
    if (w.index.unreadIn('nat', r.target) !== undefined) {
      notUnderstood(w, r, `its chain ${r.target} has rules that are not understood`);
      continue;
    }
    const single = w.backends.backend(r.target);
    const poolRules = typeof single === 'string' ? w.index.rules('nat', r.target) : [];
    if (typeof single === 'string' && poolRules.length === 0) continue;
    // Every listener of one pool chain belongs to the service that took the chain first.
    const taken = owner.get(r.target);
    if (typeof taken === 'string') {
      notUnderstood(w, r, taken);
      continue;
    }
    if (taken !== undefined) {
      const family = listenerFamily(r);
      const why =
        family === taken.family
          ? w.services.clash(r, taken.s.name)
          : `an IPv${family} listener of the IPv${taken.family} pool chain ${r.target}`;
      if (why === undefined) listen(w, taken.s, r);
      else notUnderstood(w, r, why);
      continue;
    }
    const fallback =
      r.target
        .replace(/^NFTLB-S-/, '')
        .replace(/[^A-Za-z0-9_-]/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '')
        .slice(0, 48) || derivedName(r);
    const { name, hint } = nameOf(r, fallback);
    const clash = w.services.clash(r, name);
    if (clash !== undefined) {
      notUnderstood(w, r, clash);
      continue;
    }
    const family = listenerFamily(r);
    let pool: ImportedPool | string;
    let rules: readonly ParsedRule[] = [];
    if (typeof single !== 'string') {
      const choice = { rule: r, backend: single, statistic: undefined, mark: undefined };
      pool = poolFromChoices([choice], undefined, hint, family);
    } else {
      const chain = poolChain(w, r.target, poolRules, hint, family);
      pool = typeof chain.pool === 'string' ? `pool chain ${r.target}: ${chain.pool}` : chain.pool;
      rules = chain.rules;
    }
    const s = typeof pool === 'string' ? undefined : w.services.get(name, w.file.file, r.line, hint);
    const added = s === undefined || typeof pool === 'string' ? pool : addPool(s, family, `chain ${r.target}`, pool);
    if (s === undefined || typeof pool === 'string' || (added !== 'added' && added !== 'same')) {
      owner.set(r.target, added as string);
      notUnderstood(w, r, added as string);
      continue;
    }
    owner.set(r.target, { s, family });
    listen(w, s, r);
    claim(w, s, rules, pool.backends, added === 'added');
  }
  return inline;
}

// A pool chain's rules as backend choices (HMARK and CONNMARK --save-mark are its plumbing), and the pool they make.
function poolChain(
  w: FileWork,
  chain: string,
  rules: readonly ParsedRule[],
  hint: string | undefined,
  family: Family,
): { pool: ReturnType<typeof poolFromChoices>; rules: readonly ParsedRule[] } {
  const choices: Choice[] = [];
  let hmark: ParsedRule | undefined;
  let bad = 0;
  for (const x of rules) {
    let why: string | undefined;
    if (x.target === 'HMARK') {
      if (hmark === undefined) hmark = x;
      else why = 'a second HMARK';
    } else if (x.target === 'CONNMARK') {
      if (x.targetOpts['save-mark'] === undefined) why = 'CONNMARK other than --save-mark';
    } else {
      const c = choiceOf(w, x);
      if (typeof c === 'string') why = c;
      else choices.push(c);
    }
    if (why !== undefined) {
      bad++;
      notUnderstood(w, x, `not a backend choice of pool chain ${chain}: ${why}`);
    }
  }
  if (bad > 0)
    return { pool: bad === 1 ? 'a rule is not a backend choice' : `${bad} rules are not backend choices`, rules };
  return { pool: poolFromChoices(choices, hmark, hint, family), rules };
}

// A choice: a jump to a backend chain, or a DNAT written inline.
function choiceOf(w: FileWork, r: ParsedRule): Choice | string {
  const backend: ImportedBackend | string =
    r.target === 'DNAT'
      ? { address: r.to!.address, port: r.to!.port, id: undefined, state: 'up', weight: 1, rules: [] }
      : w.backends.backend(r.target);
  if (typeof backend === 'string') return backend;
  return { rule: r, backend, statistic: r.statistic, mark: r.mark?.value };
}

// Inline pools: a listener's statistic rules that DNAT (or jump to backend chains) from the listener's own chain.
export function inlineListeners(w: FileWork, inline: Map<string, ParsedRule[]>): void {
  for (const [key, rules] of inline) {
    const first = rules[0]!;
    const unread = w.index.unreadFor(key);
    const choices = rules.map((r) => choiceOf(w, r));
    const bad = choices.find((c) => typeof c === 'string');
    const name = nameOf(first, derivedName(first)).name;
    const pool =
      unread !== undefined
        ? `line ${unread.line}, a rule of this listener, is not understood`
        : bad !== undefined
          ? bad
          : (w.services.clash(first, name) ??
            poolFromChoices(choices as Choice[], undefined, undefined, listenerFamily(first)));
    const family = listenerFamily(first);
    const s = typeof pool === 'string' ? undefined : w.services.get(name, w.file.file, first.line, undefined);
    const added =
      s === undefined || typeof pool === 'string' ? pool : addPool(s, family, `the rules at line ${first.line}`, pool);
    if (s === undefined || typeof pool === 'string' || (added !== 'added' && added !== 'same')) {
      for (const r of rules) notUnderstood(w, r, added as string);
      continue;
    }
    listen(w, s, first);
    claim(w, s, rules.slice(1), pool.backends, added === 'added');
  }
}
