import { warning, type Rule } from './rule.js';

/** Listeners (VIP x protocol x port or range) past which check warns: each is an element nft loads. */
export const MANY_LISTENERS = 250_000;

// Every VIP, protocol and port (a range is one) of a service is a listener, an element of the services maps that nft
// loads: the lists allowed per service multiply (1,024 VIPs x 1,024 ports x tcp and udp is 2,097,152 listeners, which
// nft 1.0.6 took 18 s and 3.5 GB to load on a 2-vCPU VM). Valid, so a warning, on the service with the most of them.
export const listenerCount: Rule = ({ model }) => {
  let total = 0;
  let most = -1;
  let mostCount = 0;
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    const n = s.vips.length * s.protocols.length * s.ports.length;
    total += n;
    if (n > mostCount) {
      mostCount = n;
      most = i;
    }
  }
  if (total <= MANY_LISTENERS) return [];
  const s = model.services[most]!;
  return [
    warning(
      s.path,
      'service.many-listeners',
      `the config has ${total.toLocaleString('en-US')} listeners (VIP x protocol x port or range), ${mostCount.toLocaleString('en-US')} of them in this service: each is an element nft loads, in time and memory that grow with them (2,097,152 took 18 s and 3.5 GB on a 2-vCPU VM); a port range is one listener where a list of ports is one per port`,
    ),
  ];
};
