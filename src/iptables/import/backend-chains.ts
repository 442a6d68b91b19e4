import { endpointText } from '../../model/address.js';
import type { ChainIndex } from './chain-index.js';
import type { ImportedBackend } from './imported.js';
import { matchesAll, type ParsedRule } from './parsed-rule.js';

// Backend chains: a chain that DNATs every connection to one destination, with CONNMARK bookkeeping around it (nftlb's
// NFTLB-B-<id>, a recipe's BE0). Read once per chain, whoever jumps to it.

// Reads the nat chains of one file as backend chains, remembering each answer.
export class BackendChains {
  private readonly read = new Map<string, ImportedBackend | string>();

  constructor(private readonly index: ChainIndex) {}

  // The backend a chain stands for, or why it is not a backend chain.
  backend(chain: string): ImportedBackend | string {
    let b = this.read.get(chain);
    if (b === undefined) this.read.set(chain, (b = this.readChain(chain)));
    return b;
  }

  // Whether some rule has asked for this chain as a backend chain (whatever the answer).
  asked(chain: string): boolean {
    return this.read.has(chain);
  }

  private readChain(chain: string): ImportedBackend | string {
    if (this.index.unreadIn('nat', chain) !== undefined) return `its chain ${chain} has rules that are not understood`;
    const rules = this.index.rules('nat', chain);
    let to: ParsedRule['to'];
    let id: number | undefined;
    let noted: ImportedBackend['noted'];
    for (const r of rules) {
      if (r.note?.kind === 'backend' && noted === undefined) noted = { state: r.note.state, weight: r.note.weight };
      if (!matchesAll(r)) return `chain ${chain} has a rule that does not apply to every connection`;
      if (r.target === 'DNAT') {
        if (to !== undefined && endpointText(to.address, to.port) !== endpointText(r.to!.address, r.to!.port))
          return `chain ${chain} DNATs to more than one destination`;
        to ??= r.to;
      } else if (r.target === 'CONNMARK') {
        if (r.connmarkSet !== undefined) id ??= r.connmarkSet.value;
      } else return `chain ${chain} has a rule that is neither DNAT nor CONNMARK`;
    }
    if (to === undefined) return rules.length === 0 ? `no chain ${chain} in nat` : `chain ${chain} has no DNAT`;
    return {
      address: to.address,
      port: to.port,
      id,
      state: noted?.state ?? 'up',
      weight: noted?.weight ?? 1,
      ...(noted ? { noted } : {}),
      rules,
    };
  }
}
