import type { Family, Prefix } from '../model/types.js';
import type { Plan, PlannedService } from '../plan/types.js';
import type { Chain, Expr, Hook, Rule, Stmt, TableRef } from './ast.js';
import type { Command } from './commands.js';
import { ident, type Ident } from './names.js';
import { NAMES } from './build.js';
import { persistenceNewChains } from './persistence.js';

// `nftlb trace` in the table (README.md, Logging and tracing). While it runs, nftlb's own table holds:
//   trace_pre, trace_out  filter chains on prerouting and output at mangle priority (after conntrack, before the
//                         balancer's DNAT): `ct state new` + the client and listener matches -> `meta nftrace set 1`,
//                         so `nft monitor` follows exactly the matching new connections through every later rule;
//   trace_mark            32 rules `ct mark & BIT == BIT`: jumped to from the top of `pick` (and of each persistence
//                         `new` chain), a traced packet leaves one trace event per bit set in its ct mark, so the value
//                         the selector wrote (slot or backend id) is read from the trace exactly (nft's trace shows no
//                         ct mark, and nft 1.0.6 cannot match on nftrace to jump only for traced packets);
//   trace_post, trace_in  empty filter chains just after source NAT (priority 101) on postrouting and input: their
//                         trace event carries the packet as it leaves, i.e. the backend and the NAT address.
// Everything is removed when the trace ends. The owner (pid and start time) rides in trace_pre's comment, so a trace
// that died without removing them is told from one still running: the next `nftlb apply` or `nftlb trace` removes the
// objects of a dead one. A reload replaces the table and so ends a running trace's tracing.

/** Fixed names of the trace objects; every one starts with `trace_`. */
export const TRACE_NAMES = {
  pre: ident('trace_pre'),
  out: ident('trace_out'),
  mark: ident('trace_mark'),
  post: ident('trace_post'),
  in: ident('trace_in'),
  /** An empty chain added and deleted until `nft monitor` reports it: then the monitor listens. */
  probe: ident('trace_probe'),
} as const;

const CHAINS: readonly Ident[] = [TRACE_NAMES.pre, TRACE_NAMES.out, TRACE_NAMES.post, TRACE_NAMES.in, TRACE_NAMES.mark];
const OWNER_PREFIX = 'nftlb trace pid ';
const OWNER = /^\t\tcomment "nftlb trace pid (\d+) start (\d+)"$/m;

/** Who installed the trace objects: a process id and its start time (clock ticks since boot, /proc/PID/stat). */
export interface TraceOwner {
  readonly pid: number;
  readonly start: number;
}

/** What to trace: new connections of one service (else of every service), from one client prefix (else any). */
export interface TraceFilter {
  readonly service?: PlannedService;
  readonly client?: Prefix;
}

const f = (field: Extract<Expr, { kind: 'field' }>['field']): Expr => ({ kind: 'field', field });
const FAMILIES = [4, 6] as const;

// The listener match of one family: `ip daddr . meta l4proto . th dport { VIP . proto . ports, ... }` over the services
// (a service's listeners are its VIPs x protocols x port ranges); null when no service listens in that family.
function listenerMatch(services: readonly PlannedService[], fam: Family): Stmt | null {
  const items: Expr[] = [];
  for (const s of services)
    for (const pool of s.pools) {
      if (pool.family !== fam) continue;
      for (const vip of pool.vips)
        for (const proto of s.protocols)
          for (const port of s.ports)
            items.push({
              kind: 'concat',
              parts: [
                { kind: 'address', text: vip.text },
                { kind: 'symbol', value: proto },
                { kind: 'range', ...port },
              ],
            });
    }
  if (items.length === 0) return null;
  return {
    kind: 'match',
    left: { kind: 'concat', parts: [f(fam === 4 ? 'ip daddr' : 'ip6 daddr'), f('meta l4proto'), f('th dport')] },
    right: { kind: 'anon-set', items },
  };
}

const clientMatch = (client: Prefix): Stmt => ({
  kind: 'match',
  left: f(client.family === 4 ? 'ip saddr' : 'ip6 saddr'),
  right: { kind: 'address', text: client.text },
});

const filterChain = (name: Ident, hook: Hook['hook'], priority: number, rules: Rule[], comment?: string): Chain => ({
  name,
  hook: { type: 'filter', hook, priority, priorityOffset: 0, policy: 'accept' },
  ...(comment === undefined ? {} : { comment }),
  rules,
});

// The commands that install a trace (one transaction). Load them with echo and handles (`nft -e -a`) to learn which
// trace_mark rule stands for which bit (markBits).
export function traceInstall(p: Plan, table: TableRef, filter: TraceFilter, owner: TraceOwner): Command[] {
  const services = filter.service === undefined ? p.services : [filter.service];
  const mark: Chain = {
    name: TRACE_NAMES.mark,
    rules: Array.from({ length: 32 }, (_, bit): Rule => {
      const value: Expr = { kind: 'hex', value: 2 ** bit };
      return { stmts: [{ kind: 'match', left: { kind: 'and', left: f('ct mark'), right: value }, right: value }] };
    }),
  };
  const start: Rule[] = [];
  for (const fam of FAMILIES) {
    if (filter.client !== undefined && filter.client.family !== fam) continue;
    const listeners = listenerMatch(services, fam);
    if (listeners === null) continue;
    start.push({
      stmts: [
        { kind: 'match', left: f('ct state'), right: { kind: 'symbol', value: 'new' } },
        ...(filter.client === undefined ? [] : [clientMatch(filter.client)]),
        listeners,
        { kind: 'nftrace' },
      ],
    });
  }
  const comment = `${OWNER_PREFIX}${owner.pid} start ${owner.start}`;
  const jump: Rule = {
    stmts: [
      ...(filter.client === undefined ? [] : [clientMatch(filter.client)]),
      { kind: 'verdict', verdict: { kind: 'jump', chain: TRACE_NAMES.mark } },
    ],
  };
  const add = (chain: Chain): Command => ({ kind: 'chain', verb: 'add', table, chain });
  return [
    add(mark),
    // nft 1.0.6 names the mangle priority on every hook, but srcnat only on postrouting: numbers for all.
    add(filterChain(TRACE_NAMES.pre, 'prerouting', -150, start, comment)),
    add(filterChain(TRACE_NAMES.out, 'output', -150, start)),
    add(filterChain(TRACE_NAMES.post, 'postrouting', 101, [])),
    add(filterChain(TRACE_NAMES.in, 'input', 101, [])),
    ...[NAMES.pick, ...persistenceNewChains(p)].map((chain): Command => ({
      kind: 'rule',
      table,
      chain,
      rule: jump,
      insert: true,
    })),
  ];
}

// The script `nft monitor` must report before the trace is installed (see TRACE_NAMES.probe).
// Whether a line of `nft monitor` says the trace objects of `table` are gone: the table deleted (a full load), or
// trace_pre deleted (a load in place deletes the chains it does not declare; the trace's own removal too).
export function traceGoneEvent(table: TableRef, line: string): boolean {
  const l = line.trim();
  return (
    l === `delete table ${table.family} ${table.name}` ||
    l === `delete chain ${table.family} ${table.name} ${TRACE_NAMES.pre}`
  );
}

export function traceProbe(table: TableRef): Command[] {
  return [
    { kind: 'chain', verb: 'add', table, chain: { name: TRACE_NAMES.probe } },
    { kind: 'chain', verb: 'delete', table, chain: { name: TRACE_NAMES.probe } },
  ];
}

// Which trace_mark rule (by handle) stands for which bit of the ct mark, from the echo of the install
// (`add rule inet T trace_mark [handle 56 ]ct mark & 0x00000004 == 0x00000004 # handle 57`; nft writes the top bit as
// the prefix `ct mark 0x80000000/1`).
export function markBits(echo: string): Map<number, number> {
  const out = new Map<number, number>();
  const re = new RegExp(`^add rule \\S+ \\S+ ${TRACE_NAMES.mark} (?:handle \\d+ )?(.*) # handle (\\d+)$`, 'gm');
  for (const m of echo.matchAll(re)) {
    const bit = markBit(m[1]!);
    if (bit !== undefined) out.set(Number(m[2]), bit);
  }
  return out;
}

// The bit a trace_mark rule matches, from its text as nft prints it; undefined for any other text.
export function markBit(rule: string): number | undefined {
  const m = /^ct mark (?:& 0x([0-9a-f]+) == 0x[0-9a-f]+|0x([0-9a-f]+)\/1)\b/.exec(rule.trim());
  return m === null ? undefined : Number.parseInt(m[1] ?? m[2]!, 16);
}

/** The trace objects found in a table listing with handles (`nft -t -a list table`). */
export interface TraceObjects {
  /** The trace chains present (and the probe, if one was left). */
  readonly chains: readonly Ident[];
  /** The rules that jump to trace_mark, by chain and handle. */
  readonly jumps: readonly { readonly chain: Ident; readonly handle: number }[];
  /** Who installed them (trace_pre's comment); null when unknown. */
  readonly owner: TraceOwner | null;
}

const CHAIN_LINE = /^\tchain (\S+) \{/;
const JUMP_LINE = new RegExp(`jump ${TRACE_NAMES.mark} # handle (\\d+)$`);

// The trace objects of a table listing (terse, with handles); null when there are none.
export function traceObjects(listing: string): TraceObjects | null {
  const chains: Ident[] = [];
  const jumps: { chain: Ident; handle: number }[] = [];
  let chain: string | undefined;
  for (const line of listing.split('\n')) {
    const c = CHAIN_LINE.exec(line);
    if (c !== null) {
      chain = c[1]!;
      if (chain === TRACE_NAMES.probe || CHAINS.includes(chain as Ident)) chains.push(chain as Ident);
      continue;
    }
    const j = JUMP_LINE.exec(line);
    if (j !== null && chain !== undefined && chain !== TRACE_NAMES.mark)
      jumps.push({ chain: ident(chain), handle: Number(j[1]) });
  }
  if (chains.length === 0 && jumps.length === 0) return null;
  const o = OWNER.exec(listing);
  return { chains, jumps, owner: o === null ? null : { pid: Number(o[1]), start: Number(o[2]) } };
}

// Whether a table listing (any form) holds trace chains: what apply looks at before listing handles.
export function holdsTrace(listing: string): boolean {
  return new RegExp(`^\\tchain (${CHAINS.join('|')}) \\{`, 'm').test(listing);
}

// The commands that remove trace objects (one transaction): the jumps first, then the chains they name.
export function traceRemoval(table: TableRef, o: TraceObjects): Command[] {
  return [
    ...o.jumps.map((j): Command => ({ kind: 'rule-delete', table, chain: j.chain, handle: j.handle })),
    ...o.chains.map((name): Command => ({ kind: 'chain', verb: 'delete', table, chain: { name } })),
  ];
}
