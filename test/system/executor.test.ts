// The real executor's detached run: a program's output that does not fit a pipe reaches the caller whole, and the
// program finishes while node's event loop is blocked (apply lists the tables while it plans, synchronously).
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemExecutor } from '../../src/system/executor.js';

const BYTES = 1 << 20;
// The program: says it started, prints 1 MiB (16 pipe buffers), then says it is done.
const program = (dir: string): string[] => [
  '-c',
  `touch ${dir}/started; head -c ${BYTES} /dev/zero | tr '\\0' x; printf end; touch ${dir}/done`,
];

// Waits without blocking (bounded by count) until a file exists.
async function appears(file: string): Promise<boolean> {
  for (let i = 0; i < 3000 && !existsSync(file); i++) await sleep(10);
  return existsSync(file);
}

// Blocks the event loop (no timers, no I/O callbacks) until a file exists or the count runs out.
function appearsWhileBlocked(file: string): boolean {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 3000 && !existsSync(file); i++) Atomics.wait(cell, 0, 0, 10);
  return existsSync(file);
}

test('a detached run finishes while node is blocked, and its output arrives whole; its temporary file is gone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-exec-test-'));
  const before = readdirSync(tmpdir()).filter((f) => f.startsWith('nftlb-out-')).length;
  try {
    const run = systemExecutor().run('sh', program(dir), '', { detached: true });
    t.true(await appears(join(dir, 'started')), 'the program started');
    t.true(appearsWhileBlocked(join(dir, 'done')), 'the program printed all of it while the event loop was blocked');
    const r = await run;
    t.is(r.exitCode, 0);
    t.is(r.stdout.length, BYTES + 3);
    t.true(r.stdout.endsWith('xxxend'));
    t.is(readdirSync(tmpdir()).filter((f) => f.startsWith('nftlb-out-')).length, before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a run through a pipe gives the same result, exit code and stderr included', async (t) => {
  const exec = systemExecutor();
  const args = ['-c', 'printf out; printf err >&2; exit 3'];
  t.deepEqual(await exec.run('sh', args, ''), await exec.run('sh', args, '', { detached: true }));
});

test('a detached run of a program that is not installed is tool-missing', async (t) => {
  await t.throwsAsync(systemExecutor().run('nftlb-no-such-program', [], '', { detached: true }), {
    message: /not installed/,
  });
});
