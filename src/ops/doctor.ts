import { readFile } from 'node:fs/promises';
import { NftlbError } from '../common/errors.js';
import type { Executor } from '../system/executor.js';

/** One doctor finding. fail is a blocker (nftlb cannot work); warn degrades something; fix says what to do. */
export interface Check {
  readonly name: string;
  readonly level: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  readonly fix: string | null;
}

// Reads a file under /proc ("sys/net/ipv4/ip_forward"); null when it does not exist. Tests inject their own.
export type ProcReader = (path: string) => Promise<string | null>;

// The real reader: /proc of the network namespace nftlb runs in.
export const procReader: ProcReader = async (path) => {
  try {
    return (await readFile(`/proc/${path}`, 'utf8')).trim();
  } catch {
    return null;
  }
};

const PROBE_TABLE = 'nftlb_doctor_probe';
const probe = (body: string): string => `table inet ${PROBE_TABLE} {\n${body}\n}\n`;

/** Kernel features nftlb's script uses, each probed with `nft -c -f -` (checked by the kernel, never committed). */
export const FEATURE_PROBES: readonly { name: string; script: string }[] = [
  { name: 'ct mark', script: probe('chain c {\n ct mark set 1\n}') },
  {
    name: 'numgen',
    script: probe('chain c {\n ct mark set numgen inc mod 2 offset 5\n ct mark set numgen random mod 2\n}'),
  },
  { name: 'jhash', script: probe('chain c {\n ct mark set jhash ip saddr . th sport mod 3 seed 0x5eed offset 7\n}') },
  { name: 'symhash', script: probe('chain c {\n ct mark set symhash mod 3 offset 7\n}') },
  {
    name: 'interval maps',
    script: probe(
      'map m {\n type mark : mark\n flags interval\n elements = { 10-12 : 1 }\n}\nchain c {\n ct mark set ct mark map @m\n}',
    ),
  },
  {
    name: 'nat',
    script: probe(
      'map b {\n type mark : ipv4_addr . inet_service\n elements = { 1 : 198.51.100.2 . 80 }\n}\nchain c {\n type nat hook prerouting priority dstnat; policy accept;\n meta nfproto ipv4 meta l4proto tcp dnat ip to ct mark map @b\n}',
    ),
  },
  {
    name: 'masquerade',
    script: probe(
      'chain c {\n type nat hook postrouting priority srcnat; policy accept;\n ct status dnat masquerade\n}',
    ),
  },
];

// Runs every check; never throws for a missing tool (that is a finding), only for an unexpected internal error.
export async function runDoctor(exec: Executor, o: { nft: string; proc: ProcReader }): Promise<Check[]> {
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
      if (e instanceof NftlbError && e.code === 'nft-missing') return { ok: false, why: 'not installed' };
      throw e;
    }
  };
  const v = await tool(o.nft, ['--version']);
  out.push(
    v.ok
      ? { name: 'nft', level: 'ok', detail: v.text, fix: null }
      : {
          name: 'nft',
          level: 'fail',
          detail: `${o.nft}: ${v.why}`,
          fix: 'apt-get install nftables (or set NFTLB_NFT to the nft binary)',
        },
  );
  if (v.ok) {
    for (const p of FEATURE_PROBES) {
      const res = await exec.run(o.nft, ['-c', '-f', '-'], p.script);
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
  const f = await tool('flock', ['--version']);
  out.push(
    f.ok
      ? { name: 'flock', level: 'ok', detail: f.text.split('\n')[0] ?? '', fix: null }
      : {
          name: 'flock',
          level: 'fail',
          detail: f.why,
          fix: 'apt-get install util-linux (nftlb apply takes its lock with flock)',
        },
  );
  const c = await tool('conntrack', ['--version']);
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
  return out;
}
