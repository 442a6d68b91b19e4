import { parseAddress } from '../../model/address.js';
import type { Address, Protocol } from '../../model/types.js';
import { reduceWeights } from '../../plan/weights.js';
import type { NftlbComment } from '../comment.js';
import type { Choice, ImportedBackend, ImportedPool, ImportedService, Recognised } from './imported.js';
import { poolFromChoices } from './pool-scheduler.js';
import type { ParsedFile, ParsedRule, Problem } from './save-parser.js';

// Finds the load-balancing recipes in parsed rules (listeners, pool chains, backend chains, source NAT, guards) and
// turns them into services; every rule is used, reported as ignored, or listed as not understood.

// The nftlb backend comment on one of a chain's rules (state, configured weight, service name).
const backendNote = (rules: readonly ParsedRule[]): (NftlbComment & { kind: 'backend' }) | undefined => {
  for (const r of rules) if (r.note?.kind === 'backend') return r.note;
  return undefined;
};

const stripPrefix = (a: string): string => a.replace(/\/(32|128)$/, '');

// Splits a DNAT destination "A", "A:P", "[A6]:P" or "A6" into address and port.
function endpoint(to: string | undefined): { address: Address; port: number | undefined } | undefined {
  if (to === undefined) return undefined;
  const m =
    /^\[([^\]]+)\](?::([0-9]+))?$/.exec(to) ??
    (to.includes('::') || to.split(':').length > 2 ? [to, to, undefined] : /^([^:]+)(?::([0-9]+))?$/.exec(to));
  const address = m?.[1] === undefined ? undefined : parseAddress(m[1]);
  if (address === undefined) return undefined;
  return { address, port: m?.[2] === undefined ? undefined : Number(m[2]) };
}

// Recognises the services in one or more parsed files (iptables-save and ip6tables-save output of one host).
export function recognise(files: readonly ParsedFile[]): Recognised {
  const services = new Map<string, ImportedService>();
  const ignored: Problem[] = [];
  const problems: Problem[] = files.flatMap((f) => f.problems);
  for (const f of files) recogniseFile(f, services, ignored, problems);
  return { services: [...services.values()], ignored, problems };
}

function recogniseFile(
  f: ParsedFile,
  services: Map<string, ImportedService>,
  ignored: Problem[],
  problems: Problem[],
): void {
  const used = new Set<ParsedRule>();
  const chains = new Map<string, ParsedRule[]>();
  for (const r of f.rules) chains.set(`${r.table}:${r.chain}`, [...(chains.get(`${r.table}:${r.chain}`) ?? []), r]);
  const byId = new Map<number, ImportedBackend>();
  const serviceOfBackend = new Map<ImportedBackend, ImportedService>();

  // A backend chain: CONNMARK/MARK bookkeeping plus DNAT rules that all go to one destination.
  const backendChains = new Map<string, ImportedBackend | null>();
  const backendOf = (chain: string): ImportedBackend | undefined => {
    if (backendChains.has(chain)) return backendChains.get(chain) ?? undefined;
    const rules = chains.get(`nat:${chain}`) ?? [];
    const dnats = rules.filter((r) => r.target === 'DNAT');
    const dest = new Set(dnats.map((r) => r.targetOpts['to-destination']));
    const ep = dest.size === 1 ? endpoint([...dest][0]) : undefined;
    const others = rules.filter((r) => r.target !== 'DNAT');
    const bookkeeping = others.every(
      (r) => r.target === 'CONNMARK' && r.statistic === undefined && r.mark === undefined && r.dst === undefined,
    );
    if (ep === undefined || !bookkeeping) {
      backendChains.set(chain, null);
      return undefined;
    }
    const set = others.find((r) => r.targetOpts['set-xmark'] !== undefined || r.targetOpts['set-mark'] !== undefined);
    const idText = set?.targetOpts['set-xmark'] ?? set?.targetOpts['set-mark'];
    const id = idText === undefined ? undefined : Number(idText.split('/')[0]);
    const note = backendNote(rules);
    const noted = note ? { state: note.state, weight: note.weight } : undefined;
    const b: ImportedBackend = {
      ...ep,
      id,
      state: noted?.state ?? 'up',
      weight: noted?.weight ?? 1,
      ...(noted ? { noted } : {}),
    };
    rules.forEach((r) => used.add(r));
    backendChains.set(chain, b);
    if (id !== undefined) byId.set(id, b);
    return b;
  };

  // A choice: a jump to a backend chain, or a DNAT written inline.
  const choiceOf = (r: ParsedRule): Choice | undefined => {
    const backend = r.target === 'DNAT' ? inlineBackend(r) : backendOf(r.target);
    if (backend === undefined) return undefined;
    return { rule: r, backend, statistic: r.statistic, mark: r.mark?.value };
  };
  const inlineBackend = (r: ParsedRule): ImportedBackend | undefined => {
    const ep = endpoint(r.targetOpts['to-destination']);
    return ep === undefined ? undefined : { ...ep, id: undefined, state: 'up', weight: 1 };
  };

  const serviceFor = (name: string, line: number, hint: string | undefined): ImportedService => {
    let s = services.get(name);
    if (s === undefined) {
      s = {
        name,
        vips: [],
        protocols: new Set(),
        ports: new Set(),
        pool: undefined,
        pools: [],
        backends: [],
        nat: { masquerade: false, snat: [] },
        onEmpty: undefined,
        firstLine: line,
        hintScheduler: hint,
      };
      services.set(name, s);
    }
    return s;
  };
  const addListener = (s: ImportedService, r: ParsedRule): void => {
    const vip = parseAddress(stripPrefix(r.dst!))!;
    if (!s.vips.some((v) => v.text === vip.text)) s.vips.push(vip);
    s.protocols.add(r.proto as Protocol);
    for (const p of r.dports!) s.ports.add(p.replace(':', '-'));
  };
  const isListener = (r: ParsedRule): boolean =>
    r.dst !== undefined &&
    parseAddress(stripPrefix(r.dst)) !== undefined &&
    (r.proto === 'tcp' || r.proto === 'udp') &&
    r.dports !== undefined &&
    r.src === undefined;
  const nameOf = (r: ParsedRule, fallback: string): { name: string; hint: string | undefined } => {
    const n = r.note;
    return n?.kind === 'service' || n?.kind === 'guard'
      ? { name: n.name, hint: n.scheduler }
      : { name: fallback, hint: undefined };
  };
  const derivedName = (r: ParsedRule): string =>
    `${r.proto}-${stripPrefix(r.dst!).replace(/[:.]/g, '-')}-${r.dports!.join('-').replace(/:/g, '-')}`.slice(0, 48);

  // Listeners in nat: a jump to a pool chain (or straight to one backend chain), or inline statistic DNAT rules.
  const natRules = f.rules.filter((r) => r.table === 'nat');
  const inline = new Map<string, ParsedRule[]>();
  const seenPools = new Set<string>();
  const tainted = new Set(f.problems.flatMap((p) => (p.chain === undefined ? [] : [p.chain])));
  const addPool = (s: ImportedService, pool: ImportedPool): void => {
    s.pools.push(pool);
    // A pool with one backend shows no scheduler; a later pool (other family) with rules decides.
    if (s.pool === undefined || (s.pool.backends.length === 1 && pool.backends.length > 1)) s.pool = pool;
  };
  for (const r of natRules) {
    if (!isListener(r)) continue;
    const key = `${r.chain} ${r.dst} ${r.proto} ${r.dports}`;
    if (
      r.target === 'DNAT' ||
      ((r.statistic !== undefined || r.mark !== undefined) && backendOf(r.target) !== undefined)
    ) {
      inline.set(key, [...(inline.get(key) ?? []), r]);
      continue;
    }
    if (r.statistic !== undefined || r.mark !== undefined) continue;
    if (tainted.has(`nat:${r.target}`)) {
      problems.push({
        file: f.file,
        line: r.line,
        text: r.text,
        reason: `its chain ${r.target} has rules that are not understood`,
      });
      used.add(r);
      continue;
    }
    const single = backendOf(r.target);
    const poolRules = single === undefined ? chains.get(`nat:${r.target}`) : undefined;
    if (single === undefined && poolRules === undefined) continue;
    const chainName =
      r.target
        .replace(/^NFTLB-S-/, '')
        .replace(/[^A-Za-z0-9_-]/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '') || derivedName(r);
    const { name, hint } = nameOf(r, chainName);
    const s = serviceFor(name, r.line, hint);
    addListener(s, r);
    used.add(r);
    if (seenPools.has(r.target)) continue;
    seenPools.add(r.target);
    if (single !== undefined) {
      const pool = poolFromChoices(
        [{ rule: r, backend: single, statistic: undefined, mark: undefined }],
        undefined,
        hint,
      );
      if (typeof pool === 'string') problems.push({ file: f.file, line: r.line, text: r.text, reason: pool });
      else addPool(s, pool);
      continue;
    }
    const list = (poolRules ?? []).map((x) => ({
      x,
      c: x.target === 'HMARK' || x.target === 'CONNMARK' ? undefined : choiceOf(x),
    }));
    const hmark = list.find((e) => e.x.target === 'HMARK')?.x;
    const bad = list.filter(
      (e) =>
        e.c === undefined &&
        e.x.target !== 'HMARK' &&
        !(e.x.target === 'CONNMARK' && e.x.targetOpts['save-mark'] !== undefined),
    );
    if (bad.length > 0) {
      for (const e of bad)
        problems.push({
          file: f.file,
          line: e.x.line,
          text: e.x.text,
          reason: `not a backend choice of pool chain ${r.target}`,
        });
      continue;
    }
    const pool = poolFromChoices(
      list.flatMap((e) => (e.c ? [e.c] : [])),
      hmark,
      hint,
    );
    if (typeof pool === 'string') {
      problems.push({ file: f.file, line: r.line, text: r.text, reason: `pool chain ${r.target}: ${pool}` });
      continue;
    }
    addPool(s, pool);
    list.forEach((e) => used.add(e.x));
  }
  for (const rules of inline.values()) {
    const choices = rules.map(choiceOf);
    const first = rules[0]!;
    const pool = choices.every((c) => c !== undefined)
      ? poolFromChoices(choices as Choice[], undefined, undefined)
      : 'a DNAT destination is not an address[:port]';
    if (typeof pool === 'string') {
      for (const r of rules) problems.push({ file: f.file, line: r.line, text: r.text, reason: pool });
      continue;
    }
    const s = serviceFor(nameOf(first, derivedName(first)).name, first.line, undefined);
    addListener(s, first);
    addPool(s, pool);
    rules.forEach((r) => used.add(r));
  }
  for (const s of services.values()) {
    for (const pool of s.pools) restoreNotes(pool.backends);
    for (const b of s.pools.flatMap((x) => x.backends)) if (!s.backends.includes(b)) s.backends.push(b);
    for (const b of s.backends) {
      serviceOfBackend.set(b, s);
      if (b.id !== undefined) byId.set(b.id, b);
    }
  }
  // Backend chains nothing jumps to, written by nftlb for backends that are down.
  for (const [key, rules] of chains) {
    const [table, chain] = key.split(':') as [string, string];
    const down = backendNote(rules);
    if (table !== 'nat' || down === undefined || backendChains.has(chain)) continue;
    const b = backendOf(chain);
    if (b === undefined) continue;
    const s = serviceFor(down.name, rules[0]!.line, undefined);
    s.backends.push(b);
    serviceOfBackend.set(b, s);
  }
  // Services with no backend up: filter rules refusing new connections to a listener.
  for (const r of f.rules.filter(
    (x) => x.table === 'filter' && isListener(x) && (x.target === 'REJECT' || x.target === 'DROP'),
  )) {
    if (!(r.ctstate?.length === 1 && r.ctstate[0] === 'NEW')) continue;
    const { name, hint } = nameOf(r, derivedName(r));
    const s = serviceFor(name, r.line, hint);
    addListener(s, r);
    s.onEmpty = r.target === 'DROP' ? 'drop' : 'reject';
    used.add(r);
  }
  // Source NAT: per backend (connmark = backend id) or for every DNATed connection.
  for (const r of f.rules.filter((x) => x.table === 'nat' && (x.target === 'MASQUERADE' || x.target === 'SNAT'))) {
    const to =
      r.target === 'SNAT' ? parseAddress((r.targetOpts['to-source'] ?? '').replace(/^\[|\]$/g, '')) : undefined;
    if (r.target === 'SNAT' && to === undefined) continue;
    const apply = (s: ImportedService): void => {
      if (to === undefined) s.nat.masquerade = true;
      else if (!s.nat.snat.some((a) => a.text === to.text)) s.nat.snat.push(to);
    };
    if (r.connmark !== undefined) {
      const b = byId.get(r.connmark.value);
      const s = b === undefined ? undefined : serviceOfBackend.get(b);
      if (s === undefined) continue;
      apply(s);
    } else if (r.dst === undefined && r.dports === undefined) {
      for (const s of services.values()) apply(s);
    } else continue;
    used.add(r);
  }
  // Plumbing and rules without a config equivalent: reported as ignored, not silently dropped.
  for (const r of f.rules) {
    if (used.has(r)) continue;
    const plain =
      r.dst === undefined &&
      r.src === undefined &&
      r.dports === undefined &&
      r.statistic === undefined &&
      r.mark === undefined &&
      r.connmark === undefined &&
      r.ctstate === undefined;
    if (tainted.has(`${r.table}:${r.chain}`)) {
      problems.push({
        file: f.file,
        line: r.line,
        text: r.text,
        reason: `chain ${r.chain} has rules that are not understood`,
      });
      continue;
    }
    if (plain && chains.has(`${r.table}:${r.target}`)) continue; // a hook jump into another chain
    if (r.table === 'filter' && r.target === 'ACCEPT')
      ignored.push({
        file: f.file,
        line: r.line,
        text: r.text,
        reason: 'forward/input accept: nftlb configs have no filter; conntrack and DNAT need no accept rule',
      });
    else if (
      r.target === 'CONNMARK' &&
      (r.targetOpts['restore-mark'] !== undefined || r.targetOpts['save-mark'] !== undefined) &&
      r.dst === undefined
    )
      ignored.push({
        file: f.file,
        line: r.line,
        text: r.text,
        reason: 'CONNMARK stickiness: nftlb keeps each connection on its backend through conntrack',
      });
    else
      problems.push({
        file: f.file,
        line: r.line,
        text: r.text,
        reason: 'not part of a recognised load-balancing recipe',
      });
  }
}

// nftlb comments carry the configured state and weight; the rules carry the weights reduced by their GCD (or none, for a
// pool of one). The comment is used only where it agrees with what the rules do.
function restoreNotes(backends: readonly ImportedBackend[]): void {
  if (backends.some((b) => b.noted === undefined)) return;
  const ruled = reduceWeights(backends.map((b) => b.weight));
  const noted = backends.map((b) => b.noted!.weight);
  const same = backends.length === 1 || reduceWeights(noted).every((w, i) => w === ruled[i]);
  for (const b of backends) {
    b.state = b.noted!.state;
    if (same) b.weight = b.noted!.weight;
  }
}
