import type { Family } from '../../model/types.js';
import { reduceWeights } from '../../plan/weights.js';
import { BackendChains } from './backend-chains.js';
import { ChainIndex } from './chain-index.js';
import type { Choice, ImportedBackend, ImportedPool, ImportedService, Recognised } from './imported.js';
import { listLeftovers } from './leftovers.js';
import { poolFromChoices } from './pool-scheduler.js';
import { listenerKey, type ParsedFile, type ParsedRule, type Problem } from './save-parser.js';
import { addPool, derivedName, isListener, listenerFamily, nameOf, ServiceTable } from './service-table.js';
import { applySourceNat } from './source-nat.js';

// Finds the load-balancing recipes in parsed rules (listeners, pool chains, backend chains, source NAT, guards) and
// turns them into services; every rule is used, reported as ignored, or listed as not understood.

// Recognises the services in one or more parsed files (iptables-save and ip6tables-save output of one host).
export function recognise(files: readonly ParsedFile[]): Recognised {
  const services = new ServiceTable();
  const ignored: Problem[] = [];
  const problems: Problem[] = files.flatMap((f) => f.problems);
  for (const f of files) recogniseFile(f, services, ignored, problems);
  return { services: services.all(), ignored, problems };
}

// The work on one file: what it has used, what it has listed.
interface FileWork {
  readonly file: ParsedFile;
  readonly index: ChainIndex;
  readonly backends: BackendChains;
  readonly services: ServiceTable;
  /** Services that got something from this file. */
  readonly touched: Set<ImportedService>;
  /** Rules a service or a report has taken. */
  readonly used: Set<ParsedRule>;
  readonly problems: Problem[];
  readonly ignored: Problem[];
}

// Lists a rule as not understood (once).
function notUnderstood(w: FileWork, r: ParsedRule, reason: string): void {
  if (w.used.has(r)) return;
  w.used.add(r);
  w.problems.push({
    file: w.file.file,
    line: r.line,
    text: r.text,
    reason,
    ...(w.index.has(r.table, r.target) ? { jumps: `${r.table}:${r.target}` } : {}),
  });
}

function recogniseFile(f: ParsedFile, services: ServiceTable, ignored: Problem[], problems: Problem[]): void {
  const index = new ChainIndex(f);
  const w: FileWork = {
    file: f,
    index,
    backends: new BackendChains(index),
    services,
    touched: new Set(),
    used: new Set(),
    problems,
    ignored,
  };
  const inline = jumpListeners(w);
  inlineListeners(w, inline);
  const byId = new Map<number, { backend: ImportedBackend; service: ImportedService }>();
  for (const s of w.touched) {
    for (const p of s.pools) restoreNotes(p.pool.backends);
    const seen = new Set(s.backends);
    for (const p of s.pools)
      for (const b of p.pool.backends) {
        if (seen.has(b)) continue;
        seen.add(b);
        s.backends.push(b);
      }
    for (const b of s.backends) if (b.id !== undefined) byId.set(b.id, { backend: b, service: s });
  }
  downBackends(w, byId);
  guards(w);
  applySourceNat(w.file.rules, w.used, byId, w.touched);
  listLeftovers(f, index, w.used, problems, ignored);
}

// Listeners in nat that jump to a pool chain (or straight to one backend chain); returns the inline ones (statistic +
// DNAT written in the listener's own chain), grouped by listener, for inlineListeners.
function jumpListeners(w: FileWork): Map<string, ParsedRule[]> {
  const inline = new Map<string, ParsedRule[]>();
  const owner = new Map<string, { s: ImportedService; family: Family } | string>();
  for (const r of w.file.rules) {
    if (r.table !== 'nat' || !isListener(r)) continue;
    const conditional = r.statistic !== undefined || r.mark !== undefined;
    if (r.target === 'DNAT' || (conditional && typeof w.backends.backend(r.target) !== 'string')) {
      const key = listenerKey(r.chain, r.dst!, r.proto!, r.dportsText!);
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
function inlineListeners(w: FileWork, inline: Map<string, ParsedRule[]>): void {
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

// Adds a listener rule to a service (its clash checked before).
function listen(w: FileWork, s: ImportedService, r: ParsedRule): void {
  w.services.addListener(s, r);
  w.used.add(r);
}

// Gives a service the rules of its pool; the rules of its backend chains go with its backends, unless the pool was
// the same as one it had (then the service keeps them among its own rules).
function claim(
  w: FileWork,
  s: ImportedService,
  rules: readonly ParsedRule[],
  backends: readonly ImportedBackend[],
  added: boolean,
): void {
  w.touched.add(s);
  for (const r of rules) {
    s.rules.push(r);
    w.used.add(r);
  }
  for (const b of backends)
    for (const r of b.rules) {
      if (!added) s.rules.push(r);
      w.used.add(r);
    }
}

// Backend chains nothing jumps to, written by nftlb for backends that are down (the comment names the service).
function downBackends(w: FileWork, byId: Map<number, { backend: ImportedBackend; service: ImportedService }>): void {
  for (const [table, chain, rules] of w.index.chains()) {
    if (table !== 'nat' || w.backends.asked(chain)) continue;
    const note = rules.find((r) => r.note?.kind === 'backend')?.note;
    if (note?.kind !== 'backend') continue;
    const b = w.backends.backend(chain);
    if (typeof b === 'string') continue;
    const s = w.services.get(note.name, w.file.file, rules[0]!.line, undefined);
    s.backends.push(b);
    w.touched.add(s);
    if (b.id !== undefined) byId.set(b.id, { backend: b, service: s });
    for (const r of b.rules) w.used.add(r);
  }
}

// Services with no backend up: filter rules refusing new connections to a listener.
function guards(w: FileWork): void {
  for (const r of w.file.rules) {
    if (r.table !== 'filter' || !isListener(r) || (r.target !== 'REJECT' && r.target !== 'DROP')) continue;
    if (!(r.ctstate?.length === 1 && r.ctstate[0] === 'NEW')) continue;
    const { name, hint } = nameOf(r, derivedName(r));
    const clash = w.services.clash(r, name);
    if (clash !== undefined) {
      notUnderstood(w, r, clash);
      continue;
    }
    const s = w.services.get(name, w.file.file, r.line, hint);
    listen(w, s, r);
    s.onEmpty = r.target === 'DROP' ? 'drop' : 'reject';
    w.touched.add(s);
  }
}

// nftlb comments carry the configured state and weight; the rules carry the weights reduced by their GCD (or none, for a
// pool of one). The comment is used only where it agrees with what the rules do.
function restoreNotes(backends: readonly ImportedBackend[]): void {
  if (backends.some((b) => b.noted === undefined)) return;
  const ruled = reduceWeights(backends.map((b) => b.weight));
  const noted = backends.map((b) => b.noted!.weight);
  const same = backends.length === 1 || reduceWeights(noted).every((x, i) => x === ruled[i]);
  for (const b of backends) {
    b.state = b.noted!.state;
    if (same) b.weight = b.noted!.weight;
  }
}
