import type { Diagnostic } from '../common/diagnostic.js';

// The platform's strict UTF-8 decoder: it refuses what Buffer#toString would replace with U+FFFD (a Latin-1 "é" in a
// health command would run another path), and costs what toString did (10.2 ms against 9.5 for a 22 MB config). A
// byte order mark is kept as U+FEFF, which the readers take as a blank: offsets and columns stay the file's.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A config file's text, or why its bytes are not text. */
export type DecodedConfig = { readonly text: string } | { readonly problem: Diagnostic };

// A config file's bytes as text, or the diagnostic of bytes that are not UTF-8, on the line of the first bad one.
export function decodeConfig(bytes: Uint8Array): DecodedConfig {
  try {
    return { text: UTF8.decode(bytes) };
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
  const at = firstBadByte(bytes);
  // Lines end at LF, CRLF or a lone CR, as the readers count them (parse.ts).
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    const b = bytes[i];
    if (b === 10 || (b === 13 && bytes[i + 1] !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  const hex = (b: number | undefined): string => (b ?? 0).toString(16).toUpperCase().padStart(2, '0');
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  const message = utf16
    ? `the file is UTF-16 (it starts with the byte order mark ${hex(bytes[0])} ${hex(bytes[1])}), not UTF-8; save it as UTF-8`
    : `the file is not UTF-8: byte ${hex(bytes[at])} at column ${at - lineStart + 1} (counted in bytes) starts no UTF-8 character; save it as UTF-8 (iconv -f LATIN1 -t UTF-8, if it is Latin-1)`;
  return { problem: { path: '', line, code: 'parse.encoding', message, severity: 'error' } };
}

// The offset of the first byte of the first sequence that is not UTF-8, for a file the decoder refused. One streaming
// pass in chunks finds the chunk where decoding fails (each chunk's text is dropped at once: no second copy of the
// file); within it, a bisection finds the longest prefix a streaming decode takes (it waits for the rest of a character
// cut at the end), and a character it was still waiting for starts the bad sequence.
function firstBadByte(bytes: Uint8Array): number {
  const decodes = (from: number, to: number, stream: boolean): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(from, to), { stream });
      return true;
    } catch {
      return false;
    }
  };
  const CHUNK = 1 << 16;
  const chunks = new TextDecoder('utf-8', { fatal: true });
  let from = 0;
  // Past the end: only a character cut by the end of the file is wrong.
  let hi = bytes.length + 1;
  for (; from + CHUNK < bytes.length; from += CHUNK) {
    try {
      chunks.decode(bytes.subarray(from, from + CHUNK), { stream: true });
    } catch {
      hi = from + CHUNK;
      break;
    }
  }
  // Back to the first byte of the character that ends the chunk before (it may be cut, and bad only with what
  // follows): the bytes from there decode on their own. The bytes before decoded, so it starts at most 3 bytes back.
  while (from > 0 && (bytes[from - 1]! & 0xc0) === 0x80) from--;
  if (from > 0 && bytes[from - 1]! >= 0xc0) from--;
  let lo = from;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (decodes(from, mid, true)) lo = mid;
    else hi = mid;
  }
  if (decodes(from, lo, false)) return lo;
  // Back over the continuation bytes (10xxxxxx) of the character cut at lo, to its first byte.
  let at = lo;
  while (at > from && (bytes[at - 1]! & 0xc0) === 0x80) at--;
  return at - 1;
}
