// Last-resort cleanup of what the kernel harness created: namespaces and child processes.
// The normal path is try/finally in withTopology; this covers process.exit(), uncaught errors
// and SIGINT/SIGTERM, where only synchronous work is possible.
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { SYSTEM_ENV } from './system-path.js';

const namespaces = new Set<string>();
const pids = new Set<number>();
let installed = false;

// Synchronously kills tracked children (by pid) and deletes tracked namespaces.
export function cleanupNow(): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pids.clear();
  for (const ns of namespaces) {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000, env: { ...process.env, ...SYSTEM_ENV } });
  }
  namespaces.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupNow();
  // Exit explicitly: with a listener installed Node no longer dies on the signal, and other
  // listeners (execa's signal-exit) each assume someone else will end the process.
  process.exit(128 + (constants.signals[signal] ?? 0));
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupNow);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// Remembers a namespace so it is deleted even if the process dies before the finally block.
export function trackNamespace(name: string): void {
  install();
  namespaces.add(name);
}

// Forgets a namespace once it was deleted the normal way.
export function untrackNamespace(name: string): void {
  namespaces.delete(name);
}

// Remembers a child pid so it is killed if the process dies before stopping it.
export function trackPid(pid: number | undefined): void {
  if (pid === undefined) return;
  install();
  pids.add(pid);
}

// Forgets a child pid once it has exited.
export function untrackPid(pid: number | undefined): void {
  if (pid !== undefined) pids.delete(pid);
}
