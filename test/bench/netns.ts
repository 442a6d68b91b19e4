import { runSync } from './run-timed.js';

// A private network namespace for the kernel part of the benchmark: no interfaces but lo, no link to the host.
export interface BenchNamespace {
  readonly name: string;
  /** argv prefix that runs a command inside the namespace. */
  exec(cmd: string, ...args: string[]): string[];
  /** Deletes the namespace (idempotent). */
  remove(): void;
}

// Why the kernel part cannot run here, or undefined when it can.
export function kernelUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'not root (network namespaces need CAP_SYS_ADMIN)';
  const ip = runSync('ip', ['-V']);
  if (ip.code !== 0) return `iproute2 "ip" not usable: ${ip.stderr.trim() || 'not found'}`;
  const nft = runSync('nft', ['--version']);
  if (nft.code !== 0) return `"nft" not usable: ${nft.stderr.trim() || 'not found'}`;
  return undefined;
}

// Creates nftlbbench-<pid>; deleted by remove(), and also on exit, SIGINT, SIGTERM and SIGHUP.
export function createNamespace(): BenchNamespace {
  const name = `nftlbbench-${process.pid}`;
  let alive = false;
  const remove = (): void => {
    if (!alive) return;
    alive = false;
    runSync('ip', ['netns', 'del', name]);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    remove();
    process.stderr.write(`bench: ${sig}: namespace ${name} deleted\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const made = runSync('ip', ['netns', 'add', name]);
  if (made.code !== 0) throw new Error(`ip netns add ${name} failed: ${made.stderr.trim()}`);
  alive = true;
  process.on('exit', remove);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
  return {
    name,
    exec: (cmd, ...args) => ['ip', 'netns', 'exec', name, cmd, ...args],
    remove,
  };
}
