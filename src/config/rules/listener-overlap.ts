import type { Diagnostic } from '../../common/diagnostic.js';
import { error, type Rule } from './rule.js';

// Two services (or one twice) listening on the same VIP, protocol and port would shadow each other.
export const listenerOverlap: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  const taken: { vip: string; proto: string; first: number; last: number; owner: string }[] = [];
  for (const [si, s] of model.services.entries()) {
    const vipIsList = Array.isArray(raw.services[si]?.vip);
    const seenVip = new Set<string>();
    s.vips.forEach((vip, i) => {
      const vipPath = vipIsList ? `${s.path}/vip/${i}` : `${s.path}/vip`;
      if (seenVip.has(vip.text)) {
        out.push(error(vipPath, 'service.duplicate-vip', `VIP ${vip.text} is listed twice`));
        return;
      }
      seenVip.add(vip.text);
      for (const proto of s.protocols) {
        for (const p of s.ports) {
          const clash = taken.find((t) => t.vip === vip.text && t.proto === proto && p.first <= t.last && t.first <= p.last);
          const range = p.first === p.last ? `${p.first}` : `${p.first}-${p.last}`;
          if (clash) {
            const who = clash.owner === s.name ? 'another port entry of this service' : `service "${clash.owner}"`;
            out.push(error(`${s.path}/port`, 'service.listener-overlap', `${vip.text} ${proto} port ${range} overlaps ${who}`));
          } else {
            taken.push({ vip: vip.text, proto, first: p.first, last: p.last, owner: s.name });
          }
        }
      }
    });
  }
  return out;
};
