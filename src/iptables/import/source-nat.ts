import type { ImportedBackend, ImportedService } from './imported.js';
import type { ParsedRule } from './parsed-rule.js';

// Source NAT in nat (MASQUERADE, SNAT --to-source): per backend (`-m connmark --mark <id>`, nftlb's render) or for
// every DNATed connection (`-m conntrack --ctstate DNAT`, the usual recipe), which then applies to every service of
// the same file.

// Applies the source NAT rules of one file to its services; the rules it uses are added to `used`.
export function applySourceNat(
  rules: readonly ParsedRule[],
  used: Set<ParsedRule>,
  byId: ReadonlyMap<number, { readonly backend: ImportedBackend; readonly service: ImportedService }>,
  services: ReadonlySet<ImportedService>,
): void {
  for (const r of rules) {
    if (r.table !== 'nat' || (r.target !== 'MASQUERADE' && r.target !== 'SNAT')) continue;
    const to = r.target === 'SNAT' ? r.toSource : undefined;
    const apply = (s: ImportedService): void => {
      if (to === undefined) s.nat.masquerade = true;
      else if (!s.nat.snat.some((a) => a.text === to.text)) s.nat.snat.push(to);
    };
    if (r.connmark !== undefined) {
      const s = byId.get(r.connmark.value)?.service;
      if (s === undefined) continue;
      apply(s);
      s.rules.push(r);
    } else if (r.dst === undefined && r.dports === undefined) {
      for (const s of services) apply(s);
    } else continue;
    used.add(r);
  }
}
