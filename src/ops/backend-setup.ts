import type { Address, Model, Protocol, Service } from '../model/types.js';
import { parseAddress } from '../model/address.js';
import { rangeText } from '../model/address.js';

// What a DSR backend needs before the balancer's frames reach it: the VIP on its loopback (so the kernel takes the
// packets addressed to the VIP and answers from it) and, for IPv4, ARP settings that keep it from answering or
// announcing the VIP on the segment (only the balancer may). A recipe in commands, printed by `nftlb backend-setup`.

/** One command of the recipe, as argv, with why it is there. */
export interface SetupStep {
  readonly argv: readonly string[];
  readonly why: string;
}

/** The recipe for one backend address of a config. */
export interface BackendSetup {
  /** The backend address, canonical. */
  readonly address: string;
  /** The DSR services that list it (empty: the address is no DSR backend of the config). */
  readonly services: readonly string[];
  readonly steps: readonly SetupStep[];
  /** What the service on the backend must listen on: VIP, protocols and ports per service. */
  readonly listen: readonly { service: string; vip: string; protocols: readonly Protocol[]; ports: string }[];
}

// The recipe for `address` (any spelling) among the DSR services of the model; `iface`: the backend's own interface on
// the segment, to set the ARP sysctls there too (the kernel takes the larger of `all` and the interface's value, so
// `all` alone is enough; the interface lines follow the classic LVS-DR recipe).
export function backendSetup(model: Model, address: string, iface?: string): BackendSetup | undefined {
  const a = parseAddress(address);
  if (a === undefined) return undefined;
  const services = model.services.filter(
    (s): s is Service & { dsr: NonNullable<Service['dsr']> } =>
      s.dsr !== undefined && s.backends.some((b) => b.address.text === a.text),
  );
  const vips: Address[] = [];
  for (const s of services)
    for (const v of s.vips) if (v.family === a.family && !vips.some((x) => x.text === v.text)) vips.push(v);
  const steps: SetupStep[] = vips.map((v) => ({
    argv: ['ip', 'address', 'replace', `${v.text}/${v.family === 4 ? 32 : 128}`, 'dev', 'lo'],
    why: `the VIP ${v.text} on lo: the kernel takes the forwarded packets and answers the client from the VIP`,
  }));
  if (a.family === 4 && vips.length > 0) {
    for (const dev of iface === undefined ? ['all'] : ['all', iface]) {
      steps.push({
        argv: ['sysctl', '-w', `net.ipv4.conf.${dev}.arp_ignore=1`],
        why: `answer ARP only for addresses of the interface a request arrives on (${dev}): never for the VIP on lo`,
      });
      steps.push({
        argv: ['sysctl', '-w', `net.ipv4.conf.${dev}.arp_announce=2`],
        why: `ARP requests carry an address of the outgoing interface's subnet (${dev}), never the VIP`,
      });
    }
  }
  const listen = services.map((s) => ({
    service: s.name,
    vip: vips
      .filter((v) => s.vips.some((x) => x.text === v.text))
      .map((v) => v.text)
      .join(' '),
    protocols: s.protocols,
    ports: s.ports.map((r) => rangeText(r.first, r.last)).join(','),
  }));
  return { address: a.text, services: services.map((s) => s.name), steps, listen };
}
