import { notOneHost, parseAddress } from '../../model/address.js';
import type { Address, PortRange } from '../../model/types.js';

// Readers for the option values of an iptables-save rule that nftlb understands. Each one refuses (throws an Error
// whose message says what is wrong, and becomes the reason the rule is listed as not understood) any value that no
// nftlb config could carry, so nothing the import prints can fail its own check.

/** A value/mask pair (`--mark 0x1/0xff`); mask 0xffffffff when none was written. */
export interface Masked {
  readonly value: number;
  readonly mask: number;
}

/** A DNAT destination: an address and, when written, the port it rewrites to. */
export interface Endpoint {
  readonly address: Address;
  readonly port: number | undefined;
}

const U32 = 0xffffffff;
const NUMBER = /^(?:0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/;

// An unsigned 32-bit number, decimal or 0x-hex, as iptables-save prints marks and counts.
export function readU32(text: string | undefined, what: string): number {
  const n = text !== undefined && NUMBER.test(text) ? Number(text) : NaN;
  if (!(n <= U32)) throw new Error(`${what}: expected a number from 0 to ${U32}, got ${text ?? 'nothing'}`);
  return n;
}

// A value with an optional mask, e.g. 0x1/0xffffffff.
export function readMasked(text: string, what: string): Masked {
  const slash = text.indexOf('/');
  if (slash < 0) return { value: readU32(text, what), mask: U32 };
  return { value: readU32(text.slice(0, slash), what), mask: readU32(text.slice(slash + 1), what) };
}

// One port 1..65535: the ports a config can name (port 0 is not a port anything listens on).
export function readPort(text: string, what: string): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(n)) throw new Error(`${what}: expected a port number, got ${text === '' ? 'nothing' : text}`);
  if (n < 1 || n > 65535) throw new Error(`${what}: port ${text} is outside 1..65535`);
  return n;
}

// A --dport value, "P" or "A:B" (iptables-save's form of a range).
export function readPortRange(text: string, what: string): PortRange {
  const colon = text.indexOf(':');
  if (colon < 0) {
    const p = readPort(text, what);
    return { first: p, last: p };
  }
  const first = readPort(text.slice(0, colon), what);
  const last = readPort(text.slice(colon + 1), what);
  if (first > last) throw new Error(`${what}: port range ${text} runs backwards`);
  return { first, last };
}

// The text a port range is written as in a config: 80 or 8000-8010.
export function portRangeText(r: PortRange): string {
  return r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
}

// One address, IPv6 possibly in brackets; ranges, prefixes and names are refused.
export function readAddress(text: string, what: string): Address {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const a = parseAddress(bare);
  if (a === undefined) throw new Error(`${what}: expected one IPv4 or IPv6 address, got ${text}`);
  return a;
}

// The address of a -d that names one host (A, A/32, A6/128), else undefined: a network is no VIP.
export function readHost(text: string): Address | undefined {
  const slash = text.indexOf('/');
  const a = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (a === undefined || (slash >= 0 && text.slice(slash + 1) !== (a.family === 4 ? '32' : '128'))) return undefined;
  // 0.0.0.0, a multicast or the broadcast address is no host a VIP could be (src/config/rules/unicast.ts).
  return notOneHost(a) === undefined ? a : undefined;
}

// A DNAT --to-destination: "A", "A:P", "[A6]:P", "[A6]" or a bare IPv6 address. Address ranges and port ranges
// spread connections in ways a backend list cannot say.
export function readEndpoint(text: string): Endpoint {
  const e = readEndpointText(text);
  const why = notOneHost(e.address);
  if (why !== undefined) throw new Error(`--to-destination ${text}: ${why}, no backend`);
  return e;
}

function readEndpointText(text: string): Endpoint {
  const what = '--to-destination';
  if (text.includes('-')) throw new Error(`${what} ${text}: a range of addresses or ports is not a backend`);
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracket !== null)
    return {
      address: readAddress(bracket[1]!, what),
      port: bracket[2] === undefined ? undefined : readPort(bracket[2], `${what} ${text}`),
    };
  const colons = text.split(':').length - 1;
  if (colons >= 2) return { address: readAddress(text, what), port: undefined };
  const [host, port] = text.split(':') as [string, string | undefined];
  return { address: readAddress(host, what), port: port === undefined ? undefined : readPort(port, `${what} ${text}`) };
}
