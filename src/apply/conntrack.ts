import type { Executor } from './executor.js';

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
export async function readConntrack(exec: Executor): Promise<CtSnapshot> {
  const entries: CtEntry[] = [];
  for (const fam of ['ipv4', 'ipv6']) {
    let r;
    try {
      r = await exec.run('conntrack', ['-L', '-f', fam]);
    } catch (e) {
      return { kind: 'unavailable', reason: (e as Error).message };
    }
    if (r.exitCode !== 0) return { kind: 'unavailable', reason: `conntrack -L failed: ${r.stderr.trim()}` };
    entries.push(...parseConntrack(r.stdout));
  }
  return { kind: 'ok', entries };
}

// Parses conntrack's default text lines (`tcp 6 117 ESTABLISHED src=.. dst=.. sport=.. dport=.. [packets=.. bytes=..]
// src=.. ... mark=N use=1`).
export function parseConntrack(text: string): CtEntry[] {
  const out: CtEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const proto = words[0];
    if (proto === undefined || proto === '' || !line.includes('src=')) continue;
    const kv = words.filter((w) => w.includes('='));
    const first = (k: string): string | undefined => kv.find((w) => w.startsWith(`${k}=`))?.slice(k.length + 1);
    const mark = Number(first('mark') ?? '0');
    const bytes = kv.filter((w) => w.startsWith('bytes=')).map((w) => Number(w.slice(6)));
    const state = words[3] !== undefined && /^[A-Z_]+$/.test(words[3]) ? words[3] : '';
    const dport = first('dport');
    out.push({
      proto,
      state,
      dst: first('dst') ?? '',
      dport: dport === undefined ? undefined : Number(dport),
      mark,
      bytes: bytes.length > 0 ? bytes.reduce((a, b) => a + b, 0) : null,
    });
  }
  return out;
}
