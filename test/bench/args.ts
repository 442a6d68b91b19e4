import { parseArgs } from 'node:util';

// The command line of a benchmark script: node's parseArgs (strict: an unknown option or a missing value is an error)
// over options that all take a value, and the two kinds of value they take. Bounded, so a typo cannot start a run of
// hours.

/** Parses `argv` for these option names (each `--name VALUE`); absent ones are undefined. */
export function benchOptions<K extends string>(
  argv: readonly string[],
  names: readonly K[],
): Partial<Record<K, string>> {
  const options = Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
  return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Partial<
    Record<K, string>
  >;
}

// A whole number in [1, max], or the fallback when absent; anything else is an error naming the option.
export function countOption(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new Error(`--${name}: a whole number from 1 to ${max}, not ${value}`);
  return n;
}

// A comma-separated list of sizes in [1, max], or the fallback when absent.
export function sizesOption(value: string | undefined, fallback: readonly number[], max: number): number[] {
  if (value === undefined) return [...fallback];
  return value.split(',').map((v) => countOption('sizes', v, 0, max));
}
