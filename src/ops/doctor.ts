import { NftlbError } from '../common/errors.js';
import type { Chain, Expr, Field, SetDecl, Stmt, TableRef } from '../nft/ast.js';
import { renderCommands } from '../nft/commands.js';
import { ident } from '../nft/names.js';
import type { Host } from '../system/host.js';
import type { ProcReader } from '../system/proc.js';
import { checkScript } from '../system/nft.js';
import type { Model } from '../model/types.js';
import { dsrChecks } from './doctor-dsr.js';
import { otherTablesCheck } from './doctor-tables.js';

/** One doctor finding. fail is a blocker (nftlb cannot work); warn degrades something; fix says what to do. */
export interface Check {
  readonly name: string;
  readonly level: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  readonly fix: string | null;
}

const PROBE: TableRef = { family: 'inet', name: ident('nftlb_doctor_probe') };
const f = (field: Field): Expr => ({ kind: 'field', field });
const probeChain = (...stmts: Stmt[][]): Chain => ({ name: ident('c'), rules: stmts.map((x) => ({ stmts: x })) });
const probe = (chain: Chain, sets: SetDecl[] = []): string =>
  renderCommands([{ kind: 'table-block', table: { ...PROBE, comment: 'nftlb doctor', sets, chains: [chain] } }]);
const mark = (value: Expr): Stmt => ({ kind: 'ct-mark-set', value });

/** Kernel features nftlb's script uses, each probed with `nft -c -f -` (checked by the kernel, never committed). */
export const FEATURE_PROBES: readonly { name: string; script: string }[] = [
  { name: 'ct mark', script: probe(probeChain([mark({ kind: 'number', value: 1 })])) },
  {
    name: 'numgen',
    script: probe(
      probeChain(
        [mark({ kind: 'numgen', mode: 'inc', mod: 2, offset: 5 })],
        [mark({ kind: 'numgen', mode: 'random', mod: 2, offset: 0 })],
      ),
    ),
  },
  {
    name: 'jhash',
    script: probe(
      probeChain([
        mark({
          kind: 'jhash',
          input: { kind: 'concat', parts: [f('ip saddr'), f('th sport')] },
          mod: 3,
          seed: 0x5eed,
          offset: 7,
        }),
      ]),
    ),
  },
  { name: 'symhash', script: probe(probeChain([mark({ kind: 'symhash', mod: 3, offset: 7 })])) },
  {
    name: 'interval maps',
    script: probe(probeChain([mark({ kind: 'map-lookup', key: f('ct mark'), map: ident('m') })]), [
      {
        kind: 'map',
        name: ident('m'),
        key: ['mark'],
        value: ['mark'],
        flags: ['interval'],
        elements: [{ key: '10-12', value: '1' }],
      },
    ]),
  },
  {
    name: 'nat',
    script: probe(
      {
        name: ident('c'),
        hook: { type: 'nat', hook: 'prerouting', priority: 'dstnat', priorityOffset: 0, policy: 'accept' },
        rules: [
          {
            stmts: [
              { kind: 'match', left: f('meta nfproto'), right: { kind: 'symbol', value: 'ipv4' } },
              { kind: 'match', left: f('meta l4proto'), right: { kind: 'symbol', value: 'tcp' } },
              { kind: 'nat', type: 'dnat', family: 4, to: { kind: 'map-lookup', key: f('ct mark'), map: ident('b') } },
            ],
          },
        ],
      },
      [
        {
          kind: 'map',
          name: ident('b'),
          key: ['mark'],
          value: ['ipv4_addr', 'inet_service'],
          flags: [],
          elements: [{ key: '1', value: '198.51.100.2 . 80' }],
        },
      ],
    ),
  },
  {
    name: 'masquerade',
    script: probe({
      name: ident('c'),
      hook: { type: 'nat', hook: 'postrouting', priority: 'srcnat', priorityOffset: 0, policy: 'accept' },
      rules: [
        {
          stmts: [
            { kind: 'match', left: f('ct status'), right: { kind: 'symbol', value: 'dnat' } },
            { kind: 'masquerade' },
          ],
        },
      ],
    }),
  },
];

// Runs every check; never throws for a missing tool (that is a finding), only for an unexpected internal error. With a
// model that has DSR services, the checks of the balancer side of DSR follow (doctor-dsr.ts).
export async function runDoctor(host: Host, o: { proc: ProcReader; model?: Model }): Promise<Check[]> {
  const { exec } = host;
  const out: Check[] = [];
  const tool = async (
    cmd: string,
    args: string[],
  ): Promise<{ ok: true; text: string } | { ok: false; why: string }> => {
    try {
      const r = await exec.run(cmd, args);
      return r.exitCode === 0
        ? { ok: true, text: `${r.stdout}${r.stderr}`.trim() }
        : { ok: false, why: (r.stderr.trim() || `exit ${r.exitCode}`).split('\n')[0] ?? '' };
    } catch (e) {
      if (e instanceof NftlbError && e.code === 'tool-missing') return { ok: false, why: 'not installed' };
      throw e;
    }
  };
  const v = await tool(host.nft, ['--version']);
  out.push(
    v.ok
      ? { name: 'nft', level: 'ok', detail: v.text, fix: null }
      : {
          name: 'nft',
          level: 'fail',
          detail: `${host.nft}: ${v.why}`,
          fix: 'apt-get install nftables (or set NFTLB_NFT to the nft binary)',
        },
  );
  if (v.ok) {
    for (const p of FEATURE_PROBES) {
      const res = await checkScript(host, p.script);
      out.push(
        res.exitCode === 0
          ? { name: `kernel: ${p.name}`, level: 'ok', detail: 'accepted by nft -c', fix: null }
          : {
              name: `kernel: ${p.name}`,
              level: 'fail',
              detail: (res.stderr.trim().split('\n')[0] ?? '') || `nft -c exit ${res.exitCode}`,
              fix: /Operation not permitted/.test(res.stderr)
                ? 'run as root (CAP_NET_ADMIN)'
                : 'a kernel with nf_tables, nft_ct, nft_numgen, nft_hash, nft_nat, nft_masq (Linux 5.x+)',
            },
      );
    }
  }
  const fl = await tool(host.flock, ['--version']);
  out.push(
    fl.ok
      ? { name: 'flock', level: 'ok', detail: fl.text.split('\n')[0] ?? '', fix: null }
      : {
          name: 'flock',
          level: 'fail',
          detail: fl.why,
          fix: 'apt-get install util-linux (nftlb apply takes its lock with flock)',
        },
  );
  const c = await tool(host.conntrack, ['--version']);
  out.push(
    c.ok
      ? { name: 'conntrack', level: 'ok', detail: c.text.split('\n')[0] ?? '', fix: null }
      : {
          name: 'conntrack',
          level: 'warn',
          detail: c.why,
          fix: 'apt-get install conntrack (status shows current connections with it)',
        },
  );
  for (const [name, path] of [
    ['IPv4 forwarding', 'net/ipv4/ip_forward'],
    ['IPv6 forwarding', 'net/ipv6/conf/all/forwarding'],
  ] as const) {
    const val = await o.proc(`sys/${path}`);
    out.push(
      val === '1'
        ? { name, level: 'ok', detail: `${path.replace(/\//g, '.')} = 1`, fix: null }
        : {
            name,
            level: 'warn',
            detail: `${path.replace(/\//g, '.')} = ${val ?? 'absent'}`,
            fix: `sysctl -w ${path.replace(/\//g, '.')}=1 (needed when clients or backends are on other hosts)`,
          },
    );
  }
  const acct = await o.proc('sys/net/netfilter/nf_conntrack_acct');
  out.push(
    acct === '1'
      ? { name: 'conntrack accounting', level: 'ok', detail: 'net.netfilter.nf_conntrack_acct = 1', fix: null }
      : {
          name: 'conntrack accounting',
          level: 'warn',
          detail: `net.netfilter.nf_conntrack_acct = ${acct ?? 'absent'}`,
          fix: 'sysctl -w net.netfilter.nf_conntrack_acct=1 (status shows bytes with it)',
        },
  );
  // Only a legacy nat table that already exists is read: iptables-legacy-save -t nat would otherwise load one.
  for (const [save, names] of [
    ['iptables-legacy-save', 'net/ip_tables_names'],
    ['ip6tables-legacy-save', 'net/ip6_tables_names'],
  ] as const) {
    const loaded = (await o.proc(names))?.split('\n').includes('nat') === true;
    if (!loaded) {
      out.push({ name: save, level: 'ok', detail: 'no legacy nat table', fix: null });
      continue;
    }
    const r = await tool(save, ['-t', 'nat']);
    if (!r.ok) {
      out.push({
        name: save,
        level: 'ok',
        detail: r.why === 'not installed' ? 'not installed' : `no legacy nat table (${r.why})`,
        fix: null,
      });
      continue;
    }
    const rules = r.text
      .split('\n')
      .filter(
        (l) => /^-A (PREROUTING|OUTPUT|POSTROUTING)\b/.test(l) || / -j (DNAT|REDIRECT|SNAT|MASQUERADE)\b/.test(l),
      );
    out.push(
      rules.length === 0
        ? { name: save, level: 'ok', detail: 'no legacy nat rules', fix: null }
        : {
            name: save,
            level: 'warn',
            detail: `${rules.length} legacy nat rule(s) also see the VIP traffic, e.g. ${rules[0]}`,
            fix: `review them: ${save} -t nat; legacy and nf_tables nat hooks both run`,
          },
    );
  }
  if (o.model !== undefined)
    out.push(await otherTablesCheck(host, o.model), ...(await dsrChecks(host, o.model, o.proc)));
  return out;
}
