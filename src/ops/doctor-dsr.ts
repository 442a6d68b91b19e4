import { NftlbError } from '../common/errors.js';
import type { Address, Model } from '../model/types.js';
import type { Chain, SetDecl, TableRef } from '../nft/ast.js';
import { renderCommands } from '../nft/commands.js';
import { ident } from '../nft/names.js';
import type { Host } from '../system/host.js';
import { checkScript } from '../system/nft.js';
import type { ProcReader } from '../system/proc.js';
import type { Check } from './doctor.js';

// doctor's checks of the balancer side of DSR, for a config with DSR services: each interface exists and takes a netdev
// ingress chain with `fwd` (nft -c, never committed), each VIP is an address of this host (so it answers ARP or ND for
// it), and, for IPv4, no other host on the segment answers ARP for the VIP (arping's duplicate address detection: a
// backend that answers would draw the clients' traffic past the balancer).

const PROBE: TableRef = { family: 'netdev', name: ident('nftlb_doctor_dsr') };

// A netdev table with an ingress chain on `device` that forwards to a backend map, as the DSR table does.
function fwdProbe(device: string): string {
  const backends: SetDecl = {
    kind: 'map',
    name: ident('b'),
    key: ['mark'],
    value: ['ipv4_addr'],
    flags: [],
    elements: [{ key: '1', value: '198.51.100.2' }],
  };
  const chain: Chain = {
    name: ident('c'),
    hook: { type: 'filter', hook: 'ingress', device, priority: 'filter', priorityOffset: 0, policy: 'accept' },
    rules: [
      {
        stmts: [
          { kind: 'meta-mark-set', value: { kind: 'number', value: 1 } },
          {
            kind: 'fwd',
            family: 4,
            to: { kind: 'map-lookup', key: { kind: 'field', field: 'meta mark' }, map: backends.name },
            device,
          },
        ],
      },
    ],
  };
  return renderCommands([
    { kind: 'table-block', table: { ...PROBE, comment: 'nftlb doctor', sets: [backends], chains: [chain] } },
  ]);
}

// The DSR checks for the model's DSR services (none without them).
export async function dsrChecks(host: Host, model: Model, proc: ProcReader): Promise<Check[]> {
  const out: Check[] = [];
  const services = model.services.filter((s) => s.dsr !== undefined);
  const devices = [...new Set(services.map((s) => s.dsr!.interface))].sort();
  for (const dev of devices) {
    const present =
      (await proc(`sys/net/ipv4/conf/${dev}/arp_ignore`)) !== null ||
      (await proc(`sys/net/ipv6/conf/${dev}/disable_ipv6`)) !== null;
    if (!present) {
      out.push({
        name: `dsr: interface ${dev}`,
        level: 'fail',
        detail: `no interface ${dev} here: nft refuses an ingress hook on a device that does not exist`,
        fix: `set "interface" of the DSR services to the balancer's interface on the backends' segment (ip link)`,
      });
      continue;
    }
    out.push({ name: `dsr: interface ${dev}`, level: 'ok', detail: 'present', fix: null });
    const vip4Checks = services.some(
      (s) => s.dsr!.interface === dev && s.backends.some((b) => b.health?.target === 'vip' && b.address.family === 4),
    );
    if (vip4Checks) out.push(await acceptLocal(dev, proc));
    const r = await checkScript(host, fwdProbe(dev));
    out.push(
      r.exitCode === 0
        ? { name: `dsr: kernel: netdev fwd on ${dev}`, level: 'ok', detail: 'accepted by nft -c', fix: null }
        : {
            name: `dsr: kernel: netdev fwd on ${dev}`,
            level: 'fail',
            detail: (r.stderr.trim().split('\n')[0] ?? '') || `nft -c exit ${r.exitCode}`,
            fix: /Operation not permitted/.test(r.stderr)
              ? 'run as root (CAP_NET_ADMIN)'
              : 'a kernel with nf_tables netdev support and nft_fwd_netdev (Linux 4.x+)',
          },
    );
  }
  // Each VIP once, with the interfaces of the services that use it.
  const vips = new Map<string, { vip: Address; devices: Set<string> }>();
  for (const s of services)
    for (const v of s.vips) {
      const e = vips.get(v.text) ?? { vip: v, devices: new Set<string>() };
      e.devices.add(s.dsr!.interface);
      vips.set(v.text, e);
    }
  for (const { vip, devices: devs } of vips.values()) {
    out.push(await vipLocal(host, vip));
    if (vip.family === 4) for (const dev of [...devs].sort()) out.push(await vipAnswered(host, vip, dev));
  }
  return out;
}

// health target: vip over IPv4: the backend's reply comes from the VIP, an address of this host, which the kernel drops
// as a martian unless accept_local is on for the interface; strict reverse-path filtering (rp_filter 1: the source's
// route must leave by the same interface, and the VIP's is lo) drops it too. IPv6 needs neither.
async function acceptLocal(dev: string, proc: ProcReader): Promise<Check> {
  const name = `dsr: VIP-path health checks on ${dev}`;
  const accept = await proc(`sys/net/ipv4/conf/${dev}/accept_local`);
  const rp = Math.max(
    Number((await proc('sys/net/ipv4/conf/all/rp_filter')) ?? 0),
    Number((await proc(`sys/net/ipv4/conf/${dev}/rp_filter`)) ?? 0),
  );
  if (accept === '1' && rp !== 1)
    return { name, level: 'ok', detail: `net.ipv4.conf.${dev}.accept_local = 1, rp_filter ${rp}`, fix: null };
  return {
    name,
    level: 'fail',
    detail: `net.ipv4.conf.${dev}.accept_local = ${accept ?? 'absent'}, rp_filter ${rp}: the backends' replies from the VIP are dropped, every IPv4 check with target: vip fails`,
    fix: `sysctl -w net.ipv4.conf.${dev}.accept_local=1${rp === 1 ? ` net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${dev}.rp_filter=2` : ''}`,
  };
}

// Runs a program; a missing one is a finding, not an error.
async function tool(
  host: Host,
  cmd: string,
  args: string[],
): Promise<{ missing: true } | { missing: false; code: number; text: string }> {
  try {
    const r = await host.exec.run(cmd, args);
    return { missing: false, code: r.exitCode, text: `${r.stdout}${r.stderr}`.trim() };
  } catch (e) {
    if (e instanceof NftlbError && e.code === 'tool-missing') return { missing: true };
    throw e;
  }
}

// The VIP is an address of this host: it then answers ARP (or ND) for it, so the router and on-link clients send the
// VIP's traffic here. Without it the traffic must be routed here some other way (a route via this host, BGP).
async function vipLocal(host: Host, vip: Address): Promise<Check> {
  const name = `dsr: VIP ${vip.text} on this host`;
  const prefix = `${vip.text}/${vip.family === 4 ? 32 : 128}`;
  const r = await tool(host, 'ip', ['-o', 'address', 'show', 'to', prefix]);
  if (r.missing)
    return { name, level: 'warn', detail: 'not checked: ip not installed', fix: 'apt-get install iproute2' };
  // `ip -o` prints "2: eth0    inet 203.0.113.1/32 scope global eth0 ...": the address and its interface.
  const line = r.code === 0 ? /^\d+: (\S+)\s+inet6? (\S+)/m.exec(r.text) : null;
  if (line !== null) return { name, level: 'ok', detail: `${line[2]} on ${line[1]}`, fix: null };
  return {
    name,
    level: 'warn',
    detail: 'not an address of this host: nothing here answers ARP/ND for it',
    fix: `ip address add ${prefix} dev <interface> (or route the VIP to this host another way, e.g. BGP)`,
  };
}

// Duplicate address detection for the VIP on the segment (arping -D sends from 0.0.0.0, so this host's own answer does
// not count): a reply comes from another host that holds the VIP and answers ARP for it, usually a backend without
// arp_ignore=1. That host would draw the clients' packets to itself, past the balancer.
async function vipAnswered(host: Host, vip: Address, dev: string): Promise<Check> {
  const name = `dsr: VIP ${vip.text} answered by another host on ${dev}`;
  const r = await tool(host, 'arping', ['-D', '-c', '2', '-w', '3', '-I', dev, vip.text]);
  if (r.missing)
    return {
      name,
      level: 'warn',
      detail: 'not probed: arping is not installed',
      fix: 'apt-get install iputils-arping',
    };
  if (r.code === 0) return { name, level: 'ok', detail: 'no other host answers ARP for it', fix: null };
  const reply = /reply from \S+ \[([0-9A-Fa-f:]+)\]/.exec(r.text);
  if (reply !== null)
    return {
      name,
      level: 'warn',
      detail: `answered by ${reply[1]!.toLowerCase()}: that host draws the VIP's traffic past the balancer`,
      fix: 'on a backend: nftlb backend-setup (VIP on lo, arp_ignore=1, arp_announce=2); otherwise remove the VIP there',
    };
  return { name, level: 'warn', detail: `not probed: ${r.text.split('\n').at(-1) ?? ''}`, fix: null };
}
