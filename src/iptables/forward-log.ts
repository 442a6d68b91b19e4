import { NftlbError } from '../common/errors.js';
import type { Plan, PlannedService } from '../plan/types.js';

// The forward filter and the connection log are not in the iptables output; rendering the rest without them would drop
// what the config asks for without a word, so the render is refused (exit 5, README.md, iptables output).
// - forward: nft accepts a balanced connection with one set lookup (its reply source address); iptables without ipset
//   needs one `-m conntrack --ctstate DNAT --ctreplsrc ADDR` rule per backend address, walked by every forwarded packet
//   of every connection (40,000 rules at 10,000 services), and a DROP the iptables output would have to add to the
//   host's FORWARD chain, which it otherwise leaves to the operator.
// - log: the rate is per service; `-m limit` counts per rule, and a LOG rule per backend chain would allow the rate
//   per backend instead.
export function refuseForward(p: Plan): void {
  if (p.forward === undefined) return;
  throw new NftlbError(
    'unsupported',
    'forward (the forward filter) is not expressed by the iptables output (one rule per backend for every forwarded packet, where nft makes one set lookup); use --format nft',
  );
}

// See refuseForward.
export function refuseLog(s: PlannedService): void {
  if (s.log === undefined) return;
  throw new NftlbError(
    'unsupported',
    `service ${s.name}: log is not expressed by the iptables output (its rate is per service; -m limit counts per rule, so per backend); use --format nft for this service`,
  );
}
