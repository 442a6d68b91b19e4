// The peers' rule shapes for the same services, loaded beside nftlb's in `make bench`: kube-proxy's nftables mode (a
// verdict map to one chain per service, `numgen random mod N vmap` to one chain per endpoint that DNATs), and the
// seed-style iptables recipe (nftlb's own `render --format iptables`: a statistic/nth chain per service and a chain per
// backend), loaded with iptables-restore.
import { BACKEND_PORT, benchServices } from './gen-config.js';

/** Name of the table the kube-proxy shape loads (never nftlb's own table name). */
export const KUBE_TABLE = 'kubebench';

// kube-proxy's nftables shape (pkg/proxy/nftables): `service-ips` maps VIP . protocol . port to `goto service-X`; each
// service chain picks an endpoint chain with `numgen random mod N vmap { 0 : goto endpoint-X-0, ... }`; each endpoint
// chain marks hairpin traffic for masquerade and DNATs to its address.
export function kubeProxyScript(n: number): string {
  const out: string[] = [
    `table ip ${KUBE_TABLE} {}`,
    `delete table ip ${KUBE_TABLE}`,
    `table ip ${KUBE_TABLE} {`,
    '\tmap service-ips {',
    '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
  ];
  const services = benchServices(n);
  out.push(
    `\t\telements = { ${services.map((s) => `${s.vip} . tcp . ${s.port} : goto service-${s.name}`).join(',\n\t\t\t')} }`,
    '\t}',
    '\tchain mark-for-masquerade {',
    '\t\tmeta mark set meta mark or 0x4000',
    '\t}',
    '\tchain services {',
    '\t\tip daddr . meta l4proto . th dport vmap @service-ips',
    '\t}',
    '\tchain nat-prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    '\t\tjump services',
    '\t}',
    '\tchain nat-postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    '\t\tmeta mark & 0x4000 == 0x4000 masquerade',
    '\t}',
  );
  for (const s of services) {
    const eps = s.backends.map((_, k) => `${k} : goto endpoint-${s.name}-${k}`).join(', ');
    out.push(`\tchain service-${s.name} {`, `\t\tnumgen random mod ${s.backends.length} vmap { ${eps} }`, '\t}');
    s.backends.forEach((b, k) => {
      out.push(
        `\tchain endpoint-${s.name}-${k} {`,
        `\t\tip saddr ${b} jump mark-for-masquerade`,
        `\t\tmeta l4proto tcp dnat to ${b}:${BACKEND_PORT}`,
        '\t}',
      );
    });
  }
  out.push('}', '');
  return out.join('\n');
}
