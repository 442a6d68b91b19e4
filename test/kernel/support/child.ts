// Long-running helper processes (backend servers, held client connections) inside a namespace:
// spawn, read their stdout line by line with timeouts, and stop them by pid.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { trackPid, untrackPid } from './cleanup.js';
import { SYSTEM_ENV } from './system-path.js';
import type { Topology } from './topology.js';

// Absolute path of a compiled sibling script (e.g. 'backend-server.js'), independent of the cwd.
export function supportScript(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

// Line-by-line view of a child's stdout with a bounded wait for the next line.
export class LineReader {
  private readonly queue: string[] = [];
  private readonly waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  private ended = false;
  private partial = '';

  constructor(
    stream: NodeJS.ReadableStream,
    private readonly what: string,
  ) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.partial += chunk;
      for (let nl = this.partial.indexOf('\n'); nl >= 0; nl = this.partial.indexOf('\n')) {
        this.push(this.partial.slice(0, nl));
        this.partial = this.partial.slice(nl + 1);
      }
    });
    stream.on('end', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.what}: output ended`));
    });
  }

  private push(line: string): void {
    const w = this.waiters.shift();
    if (w) w.resolve(line);
    else this.queue.push(line);
  }

  // Resolves with the next line, rejects after timeoutMs or when the stream ends.
  next(timeoutMs: number): Promise<string> {
    const line = this.queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.reject(new Error(`${this.what}: output ended`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (l: string): void => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e: Error): void => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.what}: no output line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }
}

// A node program running in one of the topology's namespaces.
export interface NsChild {
  pid: number | undefined;
  lines: LineReader;
  stderr(): string;
  write(line: string): void;
  stop(): Promise<void>;
}

// Starts `node <script> ...args` in namespace `ns`; it is stopped on teardown at the latest.
export function spawnNode(topo: Topology, ns: string, script: string, args: string[], what: string): NsChild {
  // `ip netns exec` execs the command, so the pid we get is node's own pid.
  const proc = execa('ip', ['netns', 'exec', ns, process.execPath, supportScript(script), ...args], {
    reject: false,
    env: SYSTEM_ENV,
    buffer: false,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const pid = proc.pid;
  trackPid(pid);
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c: string) => {
    if (stderr.length < 20000) stderr += c;
  });
  proc.stdin.on('error', () => undefined); // EPIPE after the child exited
  let exited = false;
  const done = proc.then(() => {
    exited = true;
    untrackPid(pid);
  });
  const stop = async (): Promise<void> => {
    if (exited || pid === undefined) return;
    killQuiet(pid, 'SIGTERM');
    const waited = await Promise.race([done.then(() => true), grace(3000).then(() => false)]);
    if (!waited && !exited) {
      killQuiet(pid, 'SIGKILL');
      await Promise.race([done, grace(2000)]);
    }
  };
  topo.defer(stop);
  return {
    pid,
    lines: new LineReader(proc.stdout, what),
    stderr: () => stderr,
    write: (line) => void proc.stdin.write(`${line}\n`),
    stop,
  };
}

function killQuiet(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // exited in the meantime
  }
}

// A wait that does not keep the process alive once the child is gone.
function grace(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// Promise-based delay used by bounded retry loops.
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
