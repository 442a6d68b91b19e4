import ipaddr from 'ipaddr.js';
import type { Diagnostic } from '../../common/diagnostic.js';
import { parsePrefix } from '../../model/address.js';
import type { Prefix } from '../../model/types.js';
import { error, warning, type Rule } from './rule.js';

// The forward filter's keys that relate to each other: an accept list does nothing without policy drop, and nft refuses
// overlapping intervals in one set, so a prefix inside another (or listed twice) is named with the one it overlaps.
export const forwardOptions: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  const f = raw.forward;
  if (f === undefined) return out;
  if (f.policy === 'accept' && (f.accept ?? []).length > 0)
    out.push(
      warning(
        '/forward/accept',
        'forward.accept-unused',
        'accept lists what policy drop lets through; with policy accept there is no filter and the list does nothing',
      ),
    );
  if (model.forward === undefined) return out;
  // Bad prefixes were reported by normalize; the overlap check takes the good ones, with their places in the list.
  const seen: { prefix: Prefix; range: [bigint, bigint]; index: number }[] = [];
  (f.accept ?? []).forEach((text, i) => {
    const r = parsePrefix(text);
    if ('problem' in r) return;
    const range = rangeOf(r.prefix);
    const other = seen.find(
      (x) => x.prefix.family === r.prefix.family && x.range[0] <= range[1] && range[0] <= x.range[1],
    );
    if (other !== undefined)
      out.push(
        error(
          `/forward/accept/${i}`,
          'forward.overlap',
          `${r.prefix.text} overlaps ${other.prefix.text} (forward.accept[${other.index}]); list each network once`,
        ),
      );
    else seen.push({ prefix: r.prefix, range, index: i });
  });
  return out;
};

// The first and last address of a prefix, as numbers.
function rangeOf(p: Prefix): [bigint, bigint] {
  const [addr, len] = p.text.split('/') as [string, string];
  const bits = p.family === 4 ? 32 : 128;
  let n = 0n;
  for (const b of ipaddr.parse(addr).toByteArray()) n = (n << 8n) | BigInt(b);
  const host = (1n << BigInt(bits - Number(len))) - 1n;
  return [n, n | host];
}
