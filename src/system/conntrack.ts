import { NftlbError } from '../common/errors.js';
import type { LineStream } from './executor.js';
import type { Host } from './host.js';

// One conntrack entry, reduced to what status needs.
export interface CtEntry {
  readonly proto: string;
  /** TCP state (ESTABLISHED, TIME_WAIT, ...); '' for UDP and others. */
  readonly state: string;
  /** Original direction destination address and port: the VIP the client connected to. */
  readonly dst: string;
  readonly dport: number | undefined;
  readonly mark: number;
  /** Both directions together; null when conntrack accounting (nf_conntrack_acct) is off. */
  readonly bytes: number | null;
}

// What status learns from conntrack: the entries, or why there are none.
export type CtSnapshot =
  | { readonly kind: 'ok'; readonly entries: readonly CtEntry[] }
  | { readonly kind: 'unavailable'; readonly reason: string };

// Lists the connection tracking table of both families (`conntrack -L -f ipv4|ipv6`). The conntrack tool is optional:
// without it status still reports the rule counters.
export async function readConntrack(host: Host): Promise<CtSnapshot> {
  const entries: CtEntry[] = [];
  for (const fam of ['ipv4', 'ipv6']) {
    let r;
    try {
      r = await host.exec.run(host.conntrack, ['-L', '-f', fam]);
    } catch (e) {
      return { kind: 'unavailable', reason: (e as Error).message };
    }
    if (r.exitCode !== 0) return { kind: 'unavailable', reason: `conntrack -L failed: ${r.stderr.trim()}` };
    entries.push(...parseConntrack(r.stdout));
  }
  return { kind: 'ok', entries };
}

/** One conntrack line: an entry of `conntrack -L`, or an event of `conntrack -E` (with `-o id`, its id). */
export interface CtLine extends CtEntry {
  /** NEW, UPDATE or DESTROY for an event; undefined for a listed entry. */
  readonly event: string | undefined;
  readonly id: string | undefined;
  /** Source address and port of the reply direction (the backend, for a balanced connection). */
  readonly replySrc: string | undefined;
  readonly replySport: number | undefined;
}

// Parses one line of conntrack's default text output (`[NEW] tcp 6 117 ESTABLISHED src=.. dst=.. sport=.. dport=..
// [packets=.. bytes=..] src=.. ... mark=N use=1 id=N`; the `[EVENT]` only in `-E` output). null for any other line
// (the tool's summary, warnings).
export function parseConntrackLine(line: string): CtLine | null {
  if (!line.includes('src=')) return null;
  const words = line.trim().split(/\s+/);
  const k = words[0]?.startsWith('[') === true ? 1 : 0;
  const proto = words[k];
  if (proto === undefined || proto === '') return null;
  let mark = 0;
  let bytes: number | null = null;
  let id: string | undefined;
  let dst: string | undefined;
  let dport: string | undefined;
  const srcs: string[] = [];
  const sports: string[] = [];
  for (let i = k + 1; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf('=');
    if (eq < 0) continue;
    const key = w.slice(0, eq);
    const v = w.slice(eq + 1);
    if (key === 'src') srcs.push(v);
    else if (key === 'sport') sports.push(v);
    else if (key === 'dst') dst ??= v;
    else if (key === 'dport') dport ??= v;
    else if (key === 'mark') mark = Number(v);
    else if (key === 'bytes') bytes = (bytes ?? 0) + Number(v);
    else if (key === 'id') id = v;
  }
  // tcp 6 <timeout> <STATE>; other protocols and DESTROY events have no state word there.
  const state = words[k + 3] !== undefined && /^[A-Z_]+$/.test(words[k + 3]!) ? words[k + 3]! : '';
  return {
    event: k === 1 ? words[0]!.slice(1, -1) : undefined,
    proto,
    state,
    dst: dst ?? '',
    dport: dport === undefined ? undefined : Number(dport),
    mark,
    bytes,
    id,
    replySrc: srcs[1],
    replySport: sports[1] === undefined ? undefined : Number(sports[1]),
  };
}

// Parses conntrack's default text output (`conntrack -L`), one entry per line.
export function parseConntrack(text: string): CtEntry[] {
  const out: CtEntry[] = [];
  for (const line of text.split('\n')) {
    const l = parseConntrackLine(line);
    if (l !== null)
      out.push({ proto: l.proto, state: l.state, dst: l.dst, dport: l.dport, mark: l.mark, bytes: l.bytes });
  }
  return out;
}

// Lists the connection tracking table of both families with entry ids (`conntrack -L -o id`), as lines; `why` says
// what needs it, for the message when conntrack fails.
export async function listConntrackLines(host: Host, why: string): Promise<string[]> {
  const out: string[] = [];
  for (const fam of ['ipv4', 'ipv6']) {
    const r = await host.exec.run(host.conntrack, ['-L', '-f', fam, '-o', 'id']);
    if (r.exitCode !== 0)
      throw new NftlbError('host-fault', `${host.conntrack} -L failed (${why}): ${r.stderr.trim()}`);
    for (const line of r.stdout.split('\n')) out.push(line);
  }
  return out;
}

// Follows conntrack events with entry ids (`conntrack -E -o id`: new, update, destroy), each line to onLine.
export async function followConntrackEvents(
  host: Host,
  onLine: (line: string, from: 'stdout' | 'stderr') => void,
): Promise<LineStream> {
  if (host.exec.stream === undefined) throw new NftlbError('internal', 'this executor cannot follow conntrack events');
  return host.exec.stream(host.conntrack, ['-E', '-o', 'id', '-e', 'NEW,UPDATE,DESTROY'], onLine);
}

// Deletes the conntrack entries whose ct mark is `mark` (`conntrack -D --mark`). Exit status 1 with "0 flow entries
// have been deleted" only means there was nothing to delete, so the outcome is not checked.
export async function deleteConntrackByMark(host: Host, mark: number): Promise<void> {
  await host.exec.run(host.conntrack, ['-D', '--mark', String(mark)]);
}
