import { oneLine } from '../nft/commands.js';
import type { ExecResult, Interactive } from './executor.js';
import type { Host } from './host.js';

// A persistent `nft -i` session for `nftlb health --watch`'s incremental updates: no nft process to start per update,
// and nft keeps its cache between transactions while no one else changes the ruleset. Each transaction is one line; a
// marker line after it (an invalid statement, `nftlb-sync-N`) makes nft print a syntax error that echoes the marker, so
// everything nft printed on stderr before that error is the transaction's own answer: nothing when it was committed,
// nft's error (with the failing command echoed, as nft -f prints it) when it was refused. A script that does not fit a
// line, a session that cannot start, dies or does not answer within the timeout give null or a failure, and the caller
// goes on with `nft -f` or a full load: the session is never the only way.

/** One transaction per call; null when this script or this session cannot be used (use `nft -f`). */
export interface NftSession {
  run(script: string): Promise<ExecResult | null>;
  close(): Promise<void>;
}

const ANSWER_TIMEOUT_MS = 10_000;

// A session over the host's nft, started on first use and again after it died; null when the executor cannot keep one.
export function nftSession(host: Host): NftSession | null {
  // Called on the executor (a method may need its `this`).
  const exec = host.exec;
  if (exec.interact === undefined) return null;
  let proc: Interactive | undefined;
  let alive = false;
  let seq = 0;
  let lines: string[] = [];
  let waiting: { marker: string; done: (r: ExecResult) => void } | undefined;
  let skipCaret = false;
  let queue: Promise<unknown> = Promise.resolve();
  const onLine = (line: string, from: 'stdout' | 'stderr'): void => {
    if (from !== 'stderr') return;
    if (skipCaret) {
      skipCaret = false;
      return;
    }
    const w = waiting;
    if (w !== undefined && line === w.marker) {
      // The line before the marker is nft's "Error: syntax error ..." about it; the caret line follows.
      const own = lines.slice(0, -1);
      lines = [];
      skipCaret = true;
      waiting = undefined;
      w.done({ exitCode: own.length === 0 ? 0 : 1, stdout: '', stderr: own.map((l) => `${l}\n`).join('') });
      return;
    }
    lines.push(line);
  };
  const start = async (): Promise<Interactive | null> => {
    if (proc !== undefined && alive) return proc;
    try {
      const p = await exec.interact!(host.nft, ['-i'], onLine);
      proc = p;
      alive = true;
      lines = [];
      skipCaret = false;
      void p.exited.then(() => {
        if (proc === p) alive = false;
        waiting?.done({ exitCode: 1, stdout: '', stderr: 'nft -i exited\n' });
        waiting = undefined;
      });
      return p;
    } catch {
      return null;
    }
  };
  const once = async (script: string): Promise<ExecResult | null> => {
    const line = oneLine(script);
    if (line === null) return null;
    const p = await start();
    if (p === null) return null;
    const marker = `nftlb-sync-${++seq}`;
    return new Promise<ExecResult>((resolve) => {
      const timer = setTimeout(() => {
        // No answer: the outcome is unknown, so the caller must not take it as applied (it loads in full).
        waiting = undefined;
        alive = false;
        void p.end();
        resolve({ exitCode: 1, stdout: '', stderr: `nft -i did not answer within ${ANSWER_TIMEOUT_MS} ms\n` });
      }, ANSWER_TIMEOUT_MS);
      waiting = {
        marker,
        done: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      p.write(`${line}\n${marker}\n`);
    });
  };
  return {
    run: (script) => {
      const r = queue.then(() => once(script));
      queue = r.catch(() => undefined);
      return r;
    },
    close: async () => {
      await queue;
      if (proc !== undefined && alive) await proc.end();
      alive = false;
    },
  };
}
