import { NftlbError } from '../common/errors.js';
import type { FlowFilter } from '../plan/flows.js';
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
  /** Source address and port of the reply direction (the backend, for a balanced connection). */
  readonly replySrc: string | undefined;
  readonly replySport: number | undefined;
  /** The ct mark: for a balanced connection, the id its backend had when it opened (src/plan/flows.ts). */
  readonly mark: number;
  /** Both directions together; null when conntrack accounting (nf_conntrack_acct) is off. */
  readonly bytes: number | null;
}

// What status learns from conntrack: how many entries it saw, or why there are none.
export type CtSnapshot =
  { readonly kind: 'ok'; readonly entries: number } | { readonly kind: 'unavailable'; readonly reason: string };

// Lists the connection tracking table of both families (`conntrack -L -f ipv4|ipv6`) and hands each entry to `visit`
// (once both listings have been read, so a failure visits none). Entries are not kept: a busy host has hundreds of
// thousands, and the caller needs only its sums. The conntrack tool is optional: without it status still reports the
// rule counters.
export async function readConntrack(
  host: Host,
  visit: (e: CtEntry) => void,
  /** Whether entries of this ct mark are wanted at all; the others are skipped before they are parsed. */
  wanted: (mark: number) => boolean = () => true,
): Promise<CtSnapshot> {
  const texts: string[] = [];
  for (const fam of ['ipv4', 'ipv6']) {
    let r;
    try {
      r = await host.exec.run(host.conntrack, ['-L', '-f', fam]);
    } catch (e) {
      return { kind: 'unavailable', reason: (e as Error).message };
    }
    if (r.exitCode !== 0) return { kind: 'unavailable', reason: `conntrack -L failed: ${r.stderr.trim()}` };
    texts.push(r.stdout);
  }
  let entries = 0;
  for (const text of texts) entries += eachEntry(text, visit, wanted);
  return { kind: 'ok', entries };
}

// Parses conntrack -L output line by line into `visit`; returns how many entries there were (wanted or not). Lines are
// cut one at a time, so nothing but the current line lives longer than its visit; a line whose mark is not wanted is
// left after reading its mark.
function eachEntry(text: string, visit: (e: CtEntry) => void, wanted: (mark: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < text.length;) {
    let nl = text.indexOf('\n', i);
    if (nl < 0) nl = text.length;
    const line = text.slice(i, nl);
    i = nl + 1;
    const mark = line.lastIndexOf(' mark=');
    if (mark < 0) {
      // No mark field: no entry (a summary line), or an entry of a conntrack without marks (mark 0).
      if (!wanted(0)) continue;
    } else if (!wanted(Number(valueAt(line, mark + 6)))) {
      n++;
      continue;
    }
    const l = parseConntrackLine(line);
    if (l !== null) {
      visit(l);
      n++;
    }
  }
  return n;
}

/** One conntrack line: an entry of `conntrack -L`, or an event of `conntrack -E` (with `-o id`, its id). */
export interface CtLine extends CtEntry {
  /** NEW, UPDATE or DESTROY for an event; undefined for a listed entry. */
  readonly event: string | undefined;
  readonly id: string | undefined;
}

// Parses one line of conntrack's default text output (`[NEW] tcp 6 117 ESTABLISHED src=.. dst=.. sport=.. dport=..
// [packets=.. bytes=..] src=.. ... mark=N use=1 id=N`; the `[EVENT]` only in `-E` output). null for any other line
// (the tool's summary, warnings). The fields are found with indexOf and only the values used are cut out: status reads
// every entry of a busy host, and splitting each line into its ~25 words cost ~1.5 us an entry.
export function parseConntrackLine(line: string): CtLine | null {
  const fields = line.indexOf(' src=');
  if (fields < 0) return null;
  // The words before the fields: [EVENT] proto number [timeout] [STATE].
  const head = line.slice(0, fields).trim().split(/ +/);
  const k = head[0]?.startsWith('[') === true ? 1 : 0;
  const proto = head[k];
  if (proto === undefined || proto === '') return null;
  // tcp 6 <timeout> <STATE>; other protocols and DESTROY events have no state word there.
  const word = head[k + 3];
  const state = word !== undefined && /^[A-Z_]+$/.test(word) ? word : '';
  const reply = line.indexOf(' src=', fields + 5);
  const sport = line.indexOf(' sport=', fields);
  const replySport = reply < 0 ? -1 : line.indexOf(' sport=', reply);
  const dport = line.indexOf(' dport=', fields);
  const mark = line.lastIndexOf(' mark=');
  const id = line.lastIndexOf(' id=');
  let bytes: number | null = null;
  for (let b = line.indexOf(' bytes=', fields); b >= 0; b = line.indexOf(' bytes=', b + 7))
    bytes = (bytes ?? 0) + Number(valueAt(line, b + 7));
  return {
    event: k === 1 ? head[0]!.slice(1, -1) : undefined,
    proto,
    state,
    dst: valueOf(line, ' dst=', fields) ?? '',
    dport: dport < 0 ? undefined : Number(valueAt(line, dport + 7)),
    mark: mark < fields ? 0 : Number(valueAt(line, mark + 6)),
    bytes,
    id: id < fields ? undefined : valueAt(line, id + 4),
    replySrc: reply < 0 ? undefined : valueAt(line, reply + 5),
    replySport: replySport < 0 || sport < 0 ? undefined : Number(valueAt(line, replySport + 7)),
  };
}

// The value that starts at `from`, up to the next space.
function valueAt(line: string, from: number): string {
  const end = line.indexOf(' ', from);
  return line.slice(from, end < 0 ? line.length : end);
}

// The value of the first ` key=` at or after `from`, or undefined.
function valueOf(line: string, key: string, from: number): string | undefined {
  const at = line.indexOf(key, from);
  return at < 0 ? undefined : valueAt(line, at + key.length);
}

// Parses conntrack's default text output (`conntrack -L`), one entry per line.
export function parseConntrack(text: string): CtEntry[] {
  const out: CtEntry[] = [];
  eachEntry(
    text,
    (e) => out.push(e),
    () => true,
  );
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

// Deletes the conntrack entries one filter selects (`conntrack -D -f FAM -p PROTO --orig-dst VIP --reply-src ADDR
// [--orig-port-dst PORT] [--reply-port-src PORT]`). Exit status 1 with "0 flow entries have been deleted" only means
// there was nothing to delete, so the outcome is not checked.
export async function deleteConntrackFlows(host: Host, f: FlowFilter): Promise<void> {
  const args = [
    '-D',
    '-f',
    f.family === 4 ? 'ipv4' : 'ipv6',
    '-p',
    f.proto,
    '--orig-dst',
    f.vip,
    '--reply-src',
    f.replySrc,
  ];
  if (f.dport !== undefined) args.push('--orig-port-dst', String(f.dport));
  if (f.replySport !== undefined) args.push('--reply-port-src', String(f.replySport));
  await host.exec.run(host.conntrack, args);
}

// Fails with tool-missing when the conntrack program is not there (its run throws that); says nothing of its output.
// For a command that may have to delete connections after it has changed the table: asked first, so that a missing
// conntrack stops it before anything changed.
export async function requireConntrack(host: Host): Promise<void> {
  await host.exec.run(host.conntrack, ['--version']);
}
