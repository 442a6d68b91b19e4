import ipaddr from 'ipaddr.js';
import type { Address, Prefix } from './types.js';

// A dotted quad already in canonical form (decimal octets 0-255, no leading zeros): its canonical text is itself.
const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

// Parses one IPv4/IPv6 address (no prefix, no zone, no IPv4 shorthand) into canonical form, or undefined.
export function parseAddress(text: string): Address | undefined {
  // Most addresses in a config are canonical dotted quads; this skips ipaddr.js's parse and print for them (200k
  // backends at 50k services). Anything else (leading zeros, hex, IPv6) takes ipaddr.js's path.
  if (CANONICAL_V4.test(text)) return { family: 4, text };
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, text: ipaddr.IPv4.parse(text).toString() };
  }
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  // An IPv4-mapped address would be matched by neither ip nor ip6 rules; refuse it rather than never match.
  if (v6.isIPv4MappedAddress()) return undefined;
  return { family: 6, text: v6.toRFC5952String() };
}

// Why an address (canonical text, as parseAddress gives it) is no one host's, or undefined when it is one: the
// unspecified address (what a socket binds to mean "any", never a packet's destination), a multicast address, the
// IPv4 broadcast address. A VIP or a backend must be one host's (src/config/rules/unicast.ts). A few string tests, no
// parse: 250k addresses at 50k services.
export function notOneHost(a: Address): string | undefined {
  const t = a.text;
  if (t === '0.0.0.0' || t === '::')
    return `${t} is the unspecified address, which no packet is sent to (it means "any" only to bind)`;
  if (a.family === 4) {
    if (t === '255.255.255.255') return `${t} is the broadcast address, not one host's`;
    let first = 0;
    for (let i = 0; i < 3 && t.charCodeAt(i) !== 46; i++) first = first * 10 + t.charCodeAt(i) - 48;
    return first >= 224 && first <= 239 ? `${t} is a multicast address (224.0.0.0/4), not one host's` : undefined;
  }
  // ff00::/8 in canonical text: a first group of four digits that starts with ff.
  return t.indexOf(':') === 4 && t.startsWith('ff')
    ? `${t} is a multicast address (ff00::/8), not one host's`
    : undefined;
}

// A number or an inclusive range as the config and nft write it: 80, 8000-8010 (ports, slots, backend ids).
export const rangeText = (first: number, last: number = first): string =>
  first === last ? String(first) : `${first}-${last}`;

// ":8080" per port: host + suffix makes one two-part string where `${host}:${port}` makes two (32 bytes more for each
// of the 200k endpoints of a 50k-service plan).
const PORT_SUFFIXES = new Map<number, string>();

// The canonical text of a backend destination, e.g. 198.51.100.2:8080 or [2001:db8::2]:8080.
export function endpointText(address: Address, port: number | undefined): string {
  const host = address.family === 6 ? `[${address.text}]` : address.text;
  if (port === undefined) return host;
  let suffix = PORT_SUFFIXES.get(port);
  if (suffix === undefined) PORT_SUFFIXES.set(port, (suffix = `:${port}`));
  return host + suffix;
}

// Parses a prefix (198.51.100.0/24, 2001:db8::/32) or one address (a /32 or /128) into canonical form; a prefix with
// host bits set is refused with the network it would be (nft would silently cut them, and the reader of the config
// would think the address itself is meant).
export function parsePrefix(text: string): { prefix: Prefix } | { problem: string } {
  const slash = text.indexOf('/');
  const a = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (a === undefined)
    return { problem: `expected an IPv4 or IPv6 prefix (198.51.100.0/24, 2001:db8::/32), got "${text}"` };
  const bits = a.family === 4 ? 32 : 128;
  const lengthText = slash < 0 ? String(bits) : text.slice(slash + 1);
  const length = /^(0|[1-9][0-9]{0,2})$/.test(lengthText) ? Number(lengthText) : NaN;
  if (!(length >= 0 && length <= bits))
    return { problem: `expected a prefix length from 0 to ${bits} after "/", got "${text}"` };
  const bytes = ipaddr.parse(a.text).toByteArray();
  let host = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    const masked = bytes[i]! & (0xff << (8 - keep)) & 0xff;
    if (masked !== bytes[i]) host = true;
    bytes[i] = masked;
  }
  const net = ipaddr.fromByteArray(bytes);
  const netText = a.family === 6 ? (net as ipaddr.IPv6).toRFC5952String() : net.toString();
  if (host) return { problem: `"${text}" has host bits set; the network is ${netText}/${length}` };
  return { prefix: { family: a.family, text: `${netText}/${length}` } };
}

// The address in network byte order (4 or 16 bytes), as a packet carries it.
export function addressBytes(a: Address): number[] {
  return ipaddr.parse(a.text).toByteArray();
}
