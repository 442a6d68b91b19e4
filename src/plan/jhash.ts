// The kernel's jhash (include/linux/jhash.h, Bob Jenkins' lookup3) and reciprocal_scale (include/linux/kernel.h), as
// nft_hash.c evaluates `jhash <expr> mod N seed S offset O`: h = reciprocal_scale(jhash(registers, len, S), N) + O.
// Computed here so `nftlb which` answers offline what the kernel picks. Words are read little-endian: the machines
// nftlb runs on (x86-64, arm64) are, and the kernel reads the registers with __get_unaligned_cpu32.

/** jhash's starting value (JHASH_INITVAL). */
const INITVAL = 0xdeadbeef;

const rol = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

// jhash(key, key.length, initval) of the kernel.
export function jhash(key: Uint8Array, initval: number): number {
  let length = key.length;
  let a = (INITVAL + length + initval) >>> 0;
  let b = a;
  let c = a;
  let o = 0;
  const word = (i: number): number => (key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)) >>> 0;
  while (length > 12) {
    a = (a + word(o)) >>> 0;
    b = (b + word(o + 4)) >>> 0;
    c = (c + word(o + 8)) >>> 0;
    // __jhash_mix
    a = (a - c) >>> 0;
    a = (a ^ rol(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rol(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rol(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rol(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rol(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rol(b, 4)) >>> 0;
    b = (b + a) >>> 0;
    length -= 12;
    o += 12;
  }
  if (length === 0) return c;
  // The last block, bytes added from the highest down (the kernel's switch falls through).
  const k = (i: number): number => key[o + i]!;
  if (length >= 12) c = (c + ((k(11) << 24) >>> 0)) >>> 0;
  if (length >= 11) c = (c + (k(10) << 16)) >>> 0;
  if (length >= 10) c = (c + (k(9) << 8)) >>> 0;
  if (length >= 9) c = (c + k(8)) >>> 0;
  if (length >= 8) b = (b + ((k(7) << 24) >>> 0)) >>> 0;
  if (length >= 7) b = (b + (k(6) << 16)) >>> 0;
  if (length >= 6) b = (b + (k(5) << 8)) >>> 0;
  if (length >= 5) b = (b + k(4)) >>> 0;
  if (length >= 4) a = (a + ((k(3) << 24) >>> 0)) >>> 0;
  if (length >= 3) a = (a + (k(2) << 16)) >>> 0;
  if (length >= 2) a = (a + (k(1) << 8)) >>> 0;
  a = (a + k(0)) >>> 0;
  // __jhash_final
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rol(b, 24)) >>> 0;
  return c;
}

// reciprocal_scale(val, n): val scaled into [0, n) by the high half of a 64-bit product (no division).
export function reciprocalScale(val: number, n: number): number {
  return Number((BigInt(val >>> 0) * BigInt(n >>> 0)) >> 32n);
}
