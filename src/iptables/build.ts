import { NftlbError } from '../common/errors.js';
import { seedFromName } from '../model/seed.js';
import type { Family, HashField } from '../model/types.js';
import type { Plan, PlannedBackend, PlannedService, Pool } from '../plan/types.js';
import type { IptChain, IptMatch, IptRule, IptRuleset, IptTarget } from './ast.js';
import { commentText } from './comment.js';
import { backendChain, FIXED, serviceChain } from './names.js';
import { refusePersistence } from './persistence.js';
import { refuseForward, refuseLog } from './forward-log.js';
import { conditionalShares } from './probability.js';

/** Most rules nftlb puts in one pool chain: a new connection walks the chain linearly, so a larger slot table
 * (weighted round robin with large co-prime weights, a big Maglev table) is refused rather than made slow. */
export const MAX_POOL_RULES = 1024;

/** Fields HMARK hashes for symmetric-hash: all four, which HMARK orders (it swaps addresses and ports), so a flow and
 * its reply hash alike. */
export const SYMMETRIC_TUPLE: readonly HashField[] = ['saddr', 'daddr', 'sport', 'dport'];

const rule = (target: IptTarget, ...matches: IptMatch[]): IptRule => ({ matches, target });
const jump = (id: number): IptTarget => ({ kind: 'jump', chain: backendChain(id) });

// Builds the iptables rule model of one family from a plan; throws NftlbError 'unsupported' (naming the service and
// the feature) for anything iptables cannot express exactly.
export function buildIptables(p: Plan, family: Family): IptRuleset {
  const dispatch: IptRule[] = [];
  const guard: IptRule[] = [];
  const post: IptRule[] = [];
  const chains: IptChain[] = [];
  const otherFamily: string[] = [];
  refuseForward(p);
  for (const s of p.services) {
    refuseLimits(s);
    refusePersistence(s);
    refuseLog(s);
    if (s.pools.some((pool) => pool.family !== family)) otherFamily.push(s.name);
    const pool = s.pools.find((x) => x.family === family);
    if (pool === undefined) continue;
    if (pool.selector === null) {
      guard.push(...guardRules(s, pool));
    } else {
      const chain = serviceChain(s.name);
      for (const listener of listeners(s, pool)) {
        // A pool of one backend (no statistic, no HMARK) does not show its scheduler: the import reads it from here.
        const text = commentText({ kind: 'service', name: s.name, scheduler: s.scheduler });
        dispatch.push(rule({ kind: 'jump', chain }, ...listener, { kind: 'comment', text }));
      }
      chains.push({ name: chain, rules: poolRules(s, pool) });
    }
    const hashed = pool.selector?.kind === 'jhash' || pool.selector?.kind === 'symhash';
    const own = s.backends.filter((b) => b.address.family === family);
    for (const b of own) chains.push({ name: backendChain(b.id), rules: backendRules(s, b, hashed) });
    post.push(...natRules(s, own, family));
  }
  return {
    family,
    otherFamily,
    tables: [
      {
        name: 'nat',
        chains: [{ name: FIXED.dispatch, rules: dispatch }, { name: FIXED.post, rules: post }, ...chains],
      },
      { name: 'filter', chains: [{ name: FIXED.guard, rules: guard }] },
    ],
  };
}

// Every VIP x protocol x port range of a pool, as the matches that select it.
function listeners(s: PlannedService, pool: Pool): IptMatch[][] {
  return pool.vips.flatMap((vip) =>
    s.protocols.flatMap((proto) =>
      s.ports.map((ports): IptMatch[] => [
        { kind: 'dst', address: vip },
        { kind: 'dport', proto, ports },
      ]),
    ),
  );
}

// No backend up: new connections get the service's on-empty verdict. REJECT is only valid in the filter table, so this
// lives there (INPUT for a local VIP, FORWARD for a routed one, OUTPUT for local clients); established ones pass.
function guardRules(s: PlannedService, pool: Pool): IptRule[] {
  return listeners(s, pool).map((m) => {
    const proto = m.find((x) => x.kind === 'dport');
    const target: IptTarget =
      s.onEmpty === 'drop'
        ? { kind: 'drop' }
        : { kind: 'reject', with: proto?.kind === 'dport' && proto.proto === 'tcp' ? 'tcp-reset' : 'default' };
    return rule(
      target,
      ...m,
      { kind: 'ctstate', state: 'NEW' },
      { kind: 'comment', text: commentText({ kind: 'guard', name: s.name, scheduler: s.scheduler }) },
    );
  });
}

function refuse(s: PlannedService, feature: string, rules: number): never {
  throw new NftlbError(
    'unsupported',
    `service ${s.name}: ${feature} needs ${rules} rules in one iptables chain (the iptables output allows ${MAX_POOL_RULES}); use --format nft for this service`,
  );
}

// rate-limit and max-connections are enforced by the nft output only (README.md, Limits); an iptables render without them
// would silently drop a limit the config asks for.
function refuseLimits(s: PlannedService): void {
  if (s.dsr !== undefined)
    throw new NftlbError(
      'unsupported',
      `service ${s.name}: forwarding: dsr needs nft's netdev table (fwd in the ingress hook), which iptables cannot express; use --format nft for this service`,
    );
  const feature =
    s.rateLimit !== undefined
      ? 'rate-limit'
      : s.backends.some((b) => b.maxConnections !== undefined)
        ? 'max-connections'
        : undefined;
  if (feature !== undefined)
    throw new NftlbError(
      'unsupported',
      `service ${s.name}: ${feature} is not expressed by the iptables output; use --format nft for this service`,
    );
}

// The pool chain: pick a slot, jump to that slot's backend chain. The last choice is unconditional, so every new
// connection is served exactly as by the nft selector.
function poolRules(s: PlannedService, pool: Pool): IptRule[] {
  const sel = pool.selector!;
  const slots = pool.slots;
  switch (sel.kind) {
    case 'constant':
      return [rule(jump(slots[0]!))];
    case 'numgen': {
      if (sel.mode === 'inc') {
        // Rule i sees only the connections rules 0..i-1 did not take and takes one in every N-i of them, so each window
        // of N consecutive connections visits the slots once, in order: exact (weighted) round robin.
        if (slots.length > MAX_POOL_RULES) refuse(s, `weighted round-robin with ${slots.length} slots`, slots.length);
        return slots.map((id, i) =>
          i === slots.length - 1 ? rule(jump(id)) : rule(jump(id), { kind: 'nth', every: slots.length - i }),
        );
      }
      const shares = conditionalShares(slots);
      if (shares.length > MAX_POOL_RULES) refuse(s, `random over ${shares.length} backends`, shares.length);
      return shares.map((x, i) =>
        i === shares.length - 1 ? rule(jump(x.id)) : rule(jump(x.id), { kind: 'random', probability: x.probability }),
      );
    }
    case 'jhash':
    case 'symhash': {
      const feature =
        s.scheduler === 'maglev' ? `maglev with table-size ${sel.mod}` : `${s.scheduler} with ${sel.mod} slots`;
      if (sel.mod + 2 > MAX_POOL_RULES) refuse(s, feature, sel.mod + 2);
      const tuple = sel.kind === 'jhash' ? sel.fields : SYMMETRIC_TUPLE;
      const seed = sel.kind === 'jhash' ? sel.seed : seedFromName(s.name);
      // HMARK writes the slot into the packet mark; the packet's own mark is parked in the ct mark first and put back
      // by the backend chain, so nothing outside nftlb sees a changed packet mark.
      return [
        rule({ kind: 'connmark-save' }),
        rule({ kind: 'hmark', tuple, mod: sel.mod, offset: pool.slotBase, seed }),
        ...slots.map((id, i) =>
          i === slots.length - 1 ? rule(jump(id)) : rule(jump(id), { kind: 'mark', value: pool.slotBase + i }),
        ),
      ];
    }
  }
}

// A backend chain: the ct mark becomes the backend id (as with nft, so `conntrack -L --mark ID` works), then DNAT.
function backendRules(s: PlannedService, b: PlannedBackend, hashed: boolean): IptRule[] {
  // State and configured weight ride along in the comment: the rules show only the reduced weights of the backends in
  // use, and `nftlb import iptables` reads the rest back from here.
  const text = commentText({ kind: 'backend', name: s.name, state: b.state, weight: b.weight });
  const out: IptRule[] = [];
  if (hashed) out.push(rule({ kind: 'connmark-restore' }));
  out.push(rule({ kind: 'connmark-set', value: b.id }, { kind: 'comment', text }));
  // A port in --to-destination needs a protocol match on the same rule; an address alone keeps the client's port.
  if (b.port === undefined) out.push(rule({ kind: 'dnat', to: b.endpoint }));
  else for (const proto of s.protocols) out.push(rule({ kind: 'dnat', to: b.endpoint }, { kind: 'proto', proto }));
  return out;
}

// Source NAT for connections DNATed to this service's backends, chosen by the backend id in the ct mark.
function natRules(s: PlannedService, own: readonly PlannedBackend[], family: Family): IptRule[] {
  const nat = s.nat;
  switch (nat.kind) {
    case 'none':
      return [];
    case 'masquerade':
      return own.map((b) =>
        rule({ kind: 'masquerade' }, { kind: 'ctstate', state: 'DNAT' }, { kind: 'connmark', value: b.id }),
      );
    case 'snat': {
      const to = nat.addresses.find((a) => a.family === family);
      if (to === undefined) return [];
      return own.map((b) =>
        rule({ kind: 'snat', to }, { kind: 'ctstate', state: 'DNAT' }, { kind: 'connmark', value: b.id }),
      );
    }
  }
}
