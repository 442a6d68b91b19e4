import { readFile } from 'node:fs/promises';

// Processes by id, as /proc shows them: enough to tell a live process from a dead one whose id was reused.

// When process `pid` started (clock ticks after boot, field 22 of /proc/PID/stat), or null when there is none.
export async function processStart(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

// Whether the process that had `pid` and started at `start` still runs.
export async function processAlive(pid: number, start: number): Promise<boolean> {
  return (await processStart(pid)) === start;
}
