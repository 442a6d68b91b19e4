// Offsets of a text turned into 1-based line numbers, without a copy of the text: the offsets of its line feeds, found
// natively (indexOf), and a binary search per lookup.
export function lineIndex(text: string): (offset: number) => number {
  let feeds: Uint32Array | undefined;
  return (offset: number): number => {
    if (feeds === undefined) {
      let n = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
      feeds = new Uint32Array(n);
      n = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) feeds[n++] = i;
    }
    // The number of line feeds before offset, plus one.
    let lo = 0;
    let hi = feeds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (feeds[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

// The segments of a JSON pointer, unescaped (~1 is '/', ~0 is '~'): "/services/0/port" -> ["services", "0", "port"].
export function pointerSegments(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

// A JSON pointer segment for an object key (the reverse of pointerSegments).
export function escapeSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
