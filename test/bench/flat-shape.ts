import { BACKEND_PORT, benchServices } from './gen-config.js';

/** Name of the table the comparison shape loads (never nftlb's own table name). */
export const FLAT_TABLE = 'flatbench';

// The shape nftlb avoids, for comparison (docs/architecture.md): one rule per service in one prerouting nat chain, each rule with
// its own anonymous `numgen inc mod N map { ... }` of address . port, plus the same masquerade step nftlb has.
export function flatShapeScript(n: number): string {
  const out: string[] = [
    `table inet ${FLAT_TABLE} {}`,
    `delete table inet ${FLAT_TABLE}`,
    `table inet ${FLAT_TABLE} {`,
    '\tchain pre {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
  ];
  for (const s of benchServices(n)) {
    const map = s.backends.map((b, k) => `${k} : ${b} . ${BACKEND_PORT}`).join(', ');
    out.push(`\t\tip daddr ${s.vip} tcp dport ${s.port} dnat ip to numgen inc mod ${s.backends.length} map { ${map} }`);
  }
  out.push(
    '\t}',
    '\tchain post {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    '\t\tct status dnat masquerade',
    '\t}',
    '}',
    '',
  );
  return out.join('\n');
}
