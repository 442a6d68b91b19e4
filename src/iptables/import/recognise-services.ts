import { endpointText } from '../../model/address.js';
import { reduceWeights } from '../../plan/weights.js';
import { BackendChains } from './backend-chains.js';
import { ChainIndex } from './chain-index.js';
import type { ImportedBackend, ImportedService, Recognised } from './imported.js';
import { listLeftovers } from './leftovers.js';
import type { ParsedFile, Problem } from './parsed-rule.js';
import { derivedName, isListener, nameOf, ServiceTable } from './service-table.js';
import { applySourceNat } from './source-nat.js';
import { listen, notUnderstood, type FileWork } from './file-work.js';
import { inlineListeners, jumpListeners } from './pool-listeners.js';

// Finds the load-balancing recipes in parsed rules (listeners, pool chains, backend chains, source NAT, guards) and
// turns them into services; every rule is used, reported as ignored, or listed as not understood.

// Recognises the services in one or more parsed files (iptables-save and ip6tables-save output of one host).
export function recognise(files: readonly ParsedFile[]): Recognised {
  const services = new ServiceTable();
  const ignored: Problem[] = [];
  const problems: Problem[] = files.flatMap((f) => f.problems);
  for (const f of files) recogniseFile(f, services, ignored, problems);
  return { services: services.all(), ignored, problems };
}

function recogniseFile(f: ParsedFile, services: ServiceTable, ignored: Problem[], problems: Problem[]): void {
  const index = new ChainIndex(f);
  const w: FileWork = {
    file: f,
    index,
    backends: new BackendChains(index),
    services,
    touched: new Set(),
    used: new Set(),
    problems,
    ignored,
  };
  const inline = jumpListeners(w);
  inlineListeners(w, inline);
  const byId = new Map<number, { backend: ImportedBackend; service: ImportedService }>();
  for (const s of w.touched) {
    for (const p of s.pools) restoreNotes(p.pool.backends);
    const seen = new Set(s.backends);
    for (const p of s.pools)
      for (const b of p.pool.backends) {
        if (seen.has(b)) continue;
        seen.add(b);
        s.backends.push(b);
      }
    for (const b of s.backends) if (b.id !== undefined) byId.set(b.id, { backend: b, service: s });
  }
  downBackends(w, byId);
  guards(w);
  applySourceNat(w, byId);
  listLeftovers(f, index, w.used, problems, ignored);
}

// Backend chains nothing jumps to, written by nftlb for backends that are down (the comment names the service). A
// render loaded with --noflush over an earlier, larger one leaves the earlier chains with higher ids behind: a chain
// of a backend the render jumps to (state up), or repeating a backend its service has, or an id a backend in use
// carries, is such a leftover; those with the lowest ids are read first, so a repeat is the leftover one.
function downBackends(w: FileWork, byId: Map<number, { backend: ImportedBackend; service: ImportedService }>): void {
  const found: { b: ImportedBackend; name: string; line: number }[] = [];
  for (const [table, chain, rules] of w.index.chains()) {
    if (table !== 'nat' || w.backends.asked(chain)) continue;
    const note = rules.find((r) => r.note?.kind === 'backend')?.note;
    if (note?.kind !== 'backend' || note.state === 'up') continue;
    const b = w.backends.backend(chain);
    if (typeof b === 'string' || (b.id !== undefined && byId.has(b.id))) continue;
    found.push({ b, name: note.name, line: rules[0]!.line });
  }
  found.sort((x, y) => (x.b.id ?? Infinity) - (y.b.id ?? Infinity));
  for (const { b, name, line } of found) {
    const s = w.services.get(name, w.file.file, line, undefined);
    const at = endpointText(b.address, b.port);
    if (s.backends.some((x) => endpointText(x.address, x.port) === at)) continue;
    s.backends.push(b);
    w.touched.add(s);
    if (b.id !== undefined) byId.set(b.id, { backend: b, service: s });
    for (const r of b.rules) w.used.add(r);
  }
}

// Services with no backend up: filter rules refusing new connections to a listener.
function guards(w: FileWork): void {
  for (const r of w.file.rules) {
    if (r.table !== 'filter' || !isListener(r) || (r.target !== 'REJECT' && r.target !== 'DROP')) continue;
    if (!w.index.hooked(r.table, r.chain)) continue;
    if (!(r.ctstate?.length === 1 && r.ctstate[0] === 'NEW')) continue;
    const { name, hint } = nameOf(r, derivedName(r));
    const clash = w.services.clash(r, name);
    if (clash !== undefined) {
      notUnderstood(w, r, clash);
      continue;
    }
    const s = w.services.get(name, w.file.file, r.line, hint);
    listen(w, s, r);
    s.onEmpty = r.target === 'DROP' ? 'drop' : 'reject';
    w.touched.add(s);
  }
}

// nftlb comments carry the configured state and weight; the rules carry the weights reduced by their GCD (or none, for a
// pool of one). The comment is used only where it agrees with what the rules do.
function restoreNotes(backends: readonly ImportedBackend[]): void {
  if (backends.some((b) => b.noted === undefined)) return;
  const ruled = reduceWeights(backends.map((b) => b.weight));
  const noted = backends.map((b) => b.noted!.weight);
  const same = backends.length === 1 || reduceWeights(noted).every((x, i) => x === ruled[i]);
  for (const b of backends) {
    b.state = b.noted!.state;
    if (same) b.weight = b.noted!.weight;
  }
}
