import { parseSelectorChain, parseServiceChain } from './names.js';
import { markBit, TRACE_NAMES } from './trace.js';

// Reads `nft monitor` output (nft 1.0.6) during `nftlb trace` and puts each traced connection together from its trace
// events. Every event line is `trace id ID FAMILY TABLE CHAIN WHAT`; one ID is one packet (the first of a connection)
// through every hook. What nftlb's table tells, in the order the packet meets it:
//   trace_pre / trace_out  `packet: ...` the client, the VIP and port, the protocol (as it arrived);
//   dispatch_*             `rule ... (verdict goto svc_NAME_vF)`: the service;
//   pick                   a verdict jump to `refuse` or drop (the slot stage): no backend up;
//   svc_NAME_vF, sel_...   `rule ... ct mark set EXPR [goto ...]`: the selector expression (its offset);
//   persist_..._get        `(verdict goto pick)`: an entry chose the backend (persistence);
//   pick / persist_..._new `(verdict jump trace_mark)`, then one trace_mark event per bit set in the ct mark;
//   trace_post / trace_in  `packet: ...` the packet as it leaves: backend address and port, NAT address and port.
// A drop anywhere (any table) ends the connection's trace too. Trace rules added after `nft monitor` started are
// printed as `unknown rule handle N`: trace_mark's bits are then known by handle (markBits of the install's echo).

/** An address and port as the trace shows them. */
export interface Endpoint {
  readonly address: string;
  readonly port: number | null;
}

/** One traced new connection: client -> VIP:port -> service -> selector value -> backend -> NAT address. */
export interface TracedConnection {
  readonly traceId: string;
  readonly family: 4 | 6;
  readonly protocol: string | null;
  readonly client: Endpoint;
  readonly vip: Endpoint;
  /** The service whose chain the dispatch chose; null when none did (not a listener, or a retransmitted SYN). */
  readonly service: string | null;
  /** How the backend was chosen: the scheduler's value (the selector expression's result before its offset, and the
   *  ct mark it wrote: a slot, or the backend id itself), or a persistence entry. */
  readonly selector:
    | { readonly kind: 'scheduler'; readonly expression: string; readonly value: number; readonly mark: number }
    | { readonly kind: 'persistence'; readonly mark: number | null }
    | null;
  /** Where the connection went (the packet's destination after DNAT). */
  readonly backend: Endpoint | null;
  /** The source the backend sees (after source NAT: the masquerade or SNAT address, or the client's own). */
  readonly nat: Endpoint | null;
  /** forwarded (left through postrouting), local (delivered to this host), dropped (by `by`), no-backend (the
   *  service's on-empty verdict), or incomplete (the trace ended before the packet left). */
  readonly outcome: 'forwarded' | 'local' | 'dropped' | 'no-backend' | 'incomplete';
  /** family table chain of the drop, for dropped and no-backend. */
  readonly by: string | null;
}

interface Packet {
  readonly family: 4 | 6;
  readonly protocol: string | null;
  readonly saddr: string;
  readonly daddr: string;
  readonly sport: number | null;
  readonly dport: number | null;
}

interface Partial {
  first?: Packet;
  service?: string;
  expression?: string;
  persistence: boolean;
  /** ct mark values read at each visit of trace_mark (bits or'ed together). */
  marks: number[];
  last?: Packet;
  outcome?: TracedConnection['outcome'];
  by?: string;
  seen: number;
}

const LINE = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (.*)$/;
const VERDICT = /\(verdict ([^)]+)\)\s*$/;
const HANDLE = /^unknown rule handle (\d+) /;
// A service chain's selector rule has no verdict (nft traces it as `continue`); a persistent one's goes on with goto.
const SELECTOR = /ct mark set (.+?)(?: goto \S+)? \(verdict (?:goto|continue)/;

// The fields of a `packet:` event.
function packetOf(text: string): Packet | null {
  const v6 = /\bip6 saddr (\S+) ip6 daddr (\S+)/.exec(text);
  const v4 = v6 === null ? /\bip saddr (\S+) ip daddr (\S+)/.exec(text) : null;
  const m = v6 ?? v4;
  if (m === null) return null;
  const l4 = /\b(tcp|udp|sctp|dccp) sport (\d+) \1 dport (\d+)/.exec(text);
  return {
    family: v6 !== null ? 6 : 4,
    protocol: l4?.[1] ?? null,
    saddr: m[1]!,
    daddr: m[2]!,
    sport: l4 === null ? null : Number(l4[2]),
    dport: l4 === null ? null : Number(l4[3]),
  };
}

// The value of a selector expression's offset (`... offset 1048576`), or of a constant selector (`0x00000003`).
function offsetOf(expression: string): number {
  const o = / offset (\d+)$/.exec(expression);
  if (o !== null) return Number(o[1]);
  const c = /^(0x[0-9a-f]+|\d+)$/.exec(expression);
  return c === null ? 0 : Number(c[1]);
}

/** Caps the connections followed at once: a flood of traced packets cannot grow memory without bound. */
const MAX_OPEN = 4096;

// Puts traced connections together from `nft monitor` lines. push() returns the connections a line completed;
// idle() those whose last event is older than `ms`; end() all that are left.
export class TraceAssembler {
  private readonly open = new Map<string, Partial>();

  constructor(
    /** The trace's table (`inet nftlb`). */
    private readonly table: { readonly family: string; readonly name: string },
    /** trace_mark rule handle -> the bit it matches (markBits). */
    private readonly bits: ReadonlyMap<number, number>,
  ) {}

  push(line: string, now: number = Date.now()): TracedConnection[] {
    const m = LINE.exec(line);
    if (m === null) return [];
    const [, id, family, table, chain, what] = m as unknown as [string, string, string, string, string, string];
    const ours = family === this.table.family && table === this.table.name;
    let p = this.open.get(id);
    if (p === undefined) {
      // A connection starts at a trace chain of ours; events of other packets (or other tables) before it are ignored.
      if (!ours || (chain !== TRACE_NAMES.pre && chain !== TRACE_NAMES.out)) return [];
      if (this.open.size >= MAX_OPEN) this.open.delete(this.open.keys().next().value!);
      p = { persistence: false, marks: [], seen: now };
      this.open.set(id, p);
    }
    p.seen = now;
    const verdict = VERDICT.exec(what)?.[1] ?? (what.startsWith('policy ') ? what.slice(7).trim() : undefined);
    if (ours) this.ours(p, chain, what, verdict);
    if (p.outcome === undefined && verdict === 'drop') {
      p.outcome = 'dropped';
      p.by = `${family} ${table} ${chain}`;
    }
    if (p.outcome === undefined) return [];
    this.open.delete(id);
    const done = this.finish(id, p);
    return done === null ? [] : [done];
  }

  // The connections whose last event is more than `ms` old (their packet left through no chain of nftlb's).
  idle(ms: number, now: number = Date.now()): TracedConnection[] {
    const out: TracedConnection[] = [];
    for (const [id, p] of this.open)
      if (now - p.seen > ms) {
        this.open.delete(id);
        const done = this.finish(id, p);
        if (done !== null) out.push(done);
      }
    return out;
  }

  // Every connection still open, as far as it got.
  end(): TracedConnection[] {
    return this.idle(-1, Infinity);
  }

  private ours(p: Partial, chain: string, what: string, verdict: string | undefined): void {
    if (what.startsWith('packet: ')) {
      const pkt = packetOf(what);
      if (pkt === null) return;
      if (chain === TRACE_NAMES.pre || chain === TRACE_NAMES.out) p.first ??= pkt;
      if (chain === TRACE_NAMES.post || chain === TRACE_NAMES.in) {
        p.last = pkt;
        p.outcome = chain === TRACE_NAMES.post ? 'forwarded' : 'local';
      }
      return;
    }
    if (chain === TRACE_NAMES.mark) {
      const h = HANDLE.exec(what);
      const text = /^rule (.*) \(verdict/.exec(what)?.[1];
      const value = h !== null ? this.bits.get(Number(h[1])) : text === undefined ? undefined : markBit(text);
      if (value !== undefined && p.marks.length > 0) p.marks[p.marks.length - 1]! += value;
      return;
    }
    if (verdict === `jump ${TRACE_NAMES.mark}`) {
      p.marks.push(0);
      return;
    }
    const target = /^goto (\S+)$/.exec(verdict ?? '')?.[1];
    const svc = target === undefined ? null : parseServiceChain(target);
    if (svc !== null && p.service === undefined) {
      p.service = svc.service;
      return;
    }
    if (parseServiceChain(chain) !== null || parseSelectorChain(chain) !== null) {
      const sel = SELECTOR.exec(what)?.[1];
      if (sel !== undefined) p.expression = sel;
      return;
    }
    if (/^persist_\S+_get$/.test(chain) && verdict === 'goto pick') {
      p.persistence = true;
      return;
    }
    // An empty pool's ct mark meets its on-empty verdict in pick's slot stage (guard_*: a table of an older nftlb).
    if ((chain === 'pick' || chain.startsWith('guard_')) && (verdict === 'jump refuse' || verdict === 'drop')) {
      p.outcome = 'no-backend';
      p.by = `${this.table.family} ${this.table.name} ${chain}`;
    }
  }

  private finish(id: string, p: Partial): TracedConnection | null {
    const first = p.first;
    if (first === undefined || (p.service === undefined && p.outcome !== 'no-backend')) return null;
    let selector: TracedConnection['selector'] = null;
    // No backend up: the mark the pool's chain wrote is its on-empty verdict, not a selector's value.
    if (p.outcome === 'no-backend') selector = null;
    else if (p.persistence) selector = { kind: 'persistence', mark: p.marks[0] ?? null };
    else if (p.expression !== undefined && p.marks.length > 0) {
      const mark = p.marks[0]!;
      selector = { kind: 'scheduler', expression: p.expression, value: mark - offsetOf(p.expression), mark };
    }
    const last = p.last;
    return {
      traceId: id,
      family: first.family,
      protocol: first.protocol,
      client: { address: first.saddr, port: first.sport },
      vip: { address: first.daddr, port: first.dport },
      service: p.service ?? null,
      selector,
      backend: last === undefined ? null : { address: last.daddr, port: last.dport },
      nat: last === undefined ? null : { address: last.saddr, port: last.sport },
      outcome: p.outcome ?? 'incomplete',
      by: p.by ?? null,
    };
  }
}
