// Address plan of the kernel test topology, and the guard that keeps every address inside the
// documentation/benchmark ranges the harness is allowed to use.
import ipaddr from 'ipaddr.js';

// The only ranges a kernel test may ever configure (plus loopback).
export const ALLOWED_RANGES: readonly string[] = [
  '203.0.113.0/24',
  '198.51.100.0/24',
  '198.18.0.0/15',
  '2001:db8::/32',
  '127.0.0.0/8',
  '::1/128',
];

// Throws unless `addr` (optionally with /prefix) lies inside ALLOWED_RANGES.
export function assertAllowed(addr: string): string {
  const bare = addr.replace(/\/\d+$/, '');
  if (!ipaddr.isValid(bare)) throw new Error(`not an IP address: ${addr}`);
  const parsed = ipaddr.parse(bare);
  const ok = ALLOWED_RANGES.some((cidr) => {
    const range = ipaddr.parseCIDR(cidr);
    return range[0].kind() === parsed.kind() && parsed.match(range);
  });
  if (!ok) throw new Error(`address ${addr} is outside the ranges kernel tests may use`);
  return addr;
}

// True for IPv6 literals; used to pick the socket family and bracket host:port pairs.
export function isV6(addr: string): boolean {
  return addr.includes(':');
}

// "198.51.100.2:8080" / "[2001:db8:2::2]:8080": the identity format backends answer with.
export function hostPort(host: string, port: number): string {
  return isV6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

// Splits "198.51.100.2:8080" or "[2001:db8:2::2]:8080" into host and port.
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`bad host:port: ${text}`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port in ${text}`);
  return { host: m[1], port };
}

function range(count: number, min: number, max: number, what: string): number[] {
  if (!Number.isInteger(count) || count < min || count > max) {
    throw new Error(`${what} must be an integer in ${min}..${max}, got ${count}`);
  }
  return Array.from({ length: count }, (_, i) => i);
}

// Client source addresses: 203.0.113.10.. and 2001:db8:1::10.. (the IPv6 suffix mirrors the
// IPv4 last octet as decimal digits, so 203.0.113.25 pairs with 2001:db8:1::25).
export function clientAddresses(count: number): { v4: string[]; v6: string[] } {
  const idx = range(count, 1, 200, 'clients');
  return {
    v4: idx.map((i) => `203.0.113.${10 + i}`),
    v6: idx.map((i) => `2001:db8:1::${10 + i}`),
  };
}

// Backend addresses: 198.51.100.2.. and 2001:db8:2::2.. (same decimal-digit mirroring); 0 = none.
export function backendAddresses(count4: number, count6: number): { v4: string[]; v6: string[] } {
  return {
    v4: range(count4, 0, 250, 'backends4').map((i) => `198.51.100.${2 + i}`),
    v6: range(count6, 0, 250, 'backends6').map((i) => `2001:db8:2::${2 + i}`),
  };
}
