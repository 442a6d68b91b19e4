import { NftlbError } from '../common/errors.js';
import type { PlannedService } from '../plan/types.js';

// Persistence has no iptables equivalent. kube-proxy's iptables mode kept ClientIP affinity with `-m recent` lists per
// backend, but an xt_recent list holds at most `ip_list_tot` addresses (a module parameter for the whole host, 100 by
// default) and forgets the oldest beyond it; measured in a namespace: 150 clients through one `--set` rule left 100,
// the first 50 gone. nftlb's entries are bounded by the service's `size` (65536 by default) and a full map leaves new
// clients to the scheduler without forgetting anyone. An output that silently drops the stickiness of the 101st client
// of a backend is refused instead (README.md, iptables output).
export function refusePersistence(s: PlannedService): void {
  if (s.persistence === undefined) return;
  throw new NftlbError(
    'unsupported',
    `service ${s.name}: persistence is not expressed by the iptables output (-m recent keeps at most ip_list_tot, 100 by default for the whole host, clients per backend and forgets the oldest); use --format nft for this service`,
  );
}
