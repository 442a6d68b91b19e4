// Plain-text tables and number formats for the benchmark report.

// Renders rows as a left/right-aligned text table (numbers right-aligned), header underlined.
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => /^[-0-9.,x% ]*$|^n\/a$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// Milliseconds with a precision that suits their size.
export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

// Seconds with three decimals.
export const sec = (x: number): string => (x / 1000).toFixed(3);

// Megabytes with one decimal.
export const mb = (x: number): string => x.toFixed(1);

// An integer with thousands separators.
export const int = (x: number): string => x.toLocaleString('en-US');
