import type { Diagnostic } from '../../common/diagnostic.js';
import { notOneHost } from '../../model/address.js';
import { error, type Rule } from './rule.js';

// A VIP and a backend are addresses one host answers on. The unspecified address (0.0.0.0, ::) is what a socket binds
// to mean "any", never a packet's destination; a multicast address and the IPv4 broadcast address are not one host's.
// nft loads any of them, and the service would then never match a connection (a VIP) or never reach one (a backend):
// refused here, with what to give instead (src/model/address.ts says why; `import iptables` leaves such rules out).
export const unicastAddresses: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  const services = model.services;
  for (let si = 0; si < services.length; si++) {
    const s = services[si]!;
    for (let i = 0; i < s.vips.length; i++) {
      const why = notOneHost(s.vips[i]!);
      if (why === undefined) continue;
      const path = Array.isArray(raw.services[si]?.vip) ? `${s.path}/vip/${i}` : `${s.path}/vip`;
      out.push(error(path, 'address.not-unicast', `VIP ${why}; give the address clients connect to`));
    }
    for (let j = 0; j < s.backends.length; j++) {
      const b = s.backends[j]!;
      const why = notOneHost(b.address);
      if (why !== undefined)
        out.push(error(`${b.path}/address`, 'address.not-unicast', `backend ${why}; give the backend's own address`));
    }
  }
  return out;
};
