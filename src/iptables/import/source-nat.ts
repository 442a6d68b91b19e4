import { notUnderstood, type FileWork } from './file-work.js';
import type { ImportedBackend, ImportedService } from './imported.js';
import type { ParsedRule } from './parsed-rule.js';

// Source NAT in nat (MASQUERADE, SNAT --to-source): per backend (`-m connmark --mark <id>`, nftlb's render) or for
// every DNATed connection (`-m conntrack --ctstate DNAT`, the usual recipe), which then applies to every service of
// the same file. A rule with any other condition (`-s`, `-o`, `-m mark`, ...) or option says something a config
// cannot: it is listed and changes no service.

// Why a source NAT rule is not one of the two forms, or undefined.
function otherForm(r: ParsedRule): string | undefined {
  const conditions = [
    r.src !== undefined && '-s',
    r.dst !== undefined && '-d',
    r.proto !== undefined && '-p',
    r.dports !== undefined && '--dport',
    r.inIf !== undefined && '-i',
    r.outIf !== undefined && '-o',
    r.mark !== undefined && '-m mark',
    r.statistic !== undefined && '-m statistic',
    r.ctstate !== undefined && !(r.ctstate.length === 1 && r.ctstate[0] === 'DNAT') && '--ctstate other than DNAT',
    r.connmark === undefined && r.ctstate === undefined && 'every connection, not only DNATed ones',
    ...Object.keys(r.targetOpts)
      .filter((k) => k !== 'to-source')
      .map((k) => `--${k}`),
  ].filter((c): c is string => c !== false);
  if (conditions.length === 0) return undefined;
  return `source NAT on what a config cannot say (${conditions.join(', ')}): a config says only per backend (-m connmark --mark ID) or for every DNATed connection (-m conntrack --ctstate DNAT)`;
}

// Applies the source NAT rules of one file to its services; the rules it uses are added to `w.used`, the others it
// lists.
export function applySourceNat(
  w: FileWork,
  byId: ReadonlyMap<number, { readonly backend: ImportedBackend; readonly service: ImportedService }>,
): void {
  for (const r of w.file.rules) {
    if (r.table !== 'nat' || (r.target !== 'MASQUERADE' && r.target !== 'SNAT') || w.used.has(r)) continue;
    if (!w.index.hooked(r.table, r.chain)) continue;
    const why = otherForm(r);
    if (why !== undefined) {
      notUnderstood(w, r, why);
      continue;
    }
    const to = r.target === 'SNAT' ? r.toSource : undefined;
    const apply = (s: ImportedService): void => {
      if (to === undefined) s.nat.masquerade = true;
      else if (!s.nat.snat.some((a) => a.text === to.text)) s.nat.snat.push(to);
    };
    if (r.connmark !== undefined) {
      // A mark no imported backend sets is listed with the other leftovers.
      const s = byId.get(r.connmark.value)?.service;
      if (s === undefined) continue;
      apply(s);
      s.rules.push(r);
    } else if (w.touched.size === 0) {
      notUnderstood(w, r, 'source NAT for every DNATed connection, but no service is imported from this file');
      continue;
    } else for (const s of w.touched) apply(s);
    w.used.add(r);
  }
}
