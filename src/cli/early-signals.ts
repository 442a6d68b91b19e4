// `nftlb health --watch` runs as a service: a SIGHUP (systemctl reload) or SIGTERM that comes while node loads nftlb and
// the config (seconds at 10k services) must not end it by the signal's default action. The entry (main.ts) holds them
// from its first line, before the rest of nftlb is loaded; health takes what came over once it listens itself.

export type HeldSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT';

const NAMES: readonly HeldSignal[] = ['SIGHUP', 'SIGTERM', 'SIGINT'];
const got = new Set<HeldSignal>();
const hold = (s: NodeJS.Signals): void => void got.add(s as HeldSignal);
let holding = false;

// Starts holding the process's SIGHUP, SIGTERM and SIGINT.
export function holdSignals(): void {
  if (holding) return;
  holding = true;
  for (const n of NAMES) process.on(n, hold);
}

// Stops holding them (the caller listens by now); returns what came meanwhile (nothing when nothing held them).
export function releaseSignals(): Set<HeldSignal> {
  if (holding) for (const n of NAMES) process.off(n, hold);
  holding = false;
  return new Set(got);
}
