// health --watch's holder of the apply lock (src/system/lock-session.ts) with the real perl and flock(1): it takes the
// very lock acquireLock takes (each excludes the other, with and without --wait), serializes its own holders, locks the
// file that is there now (one removed and made again), falls back to flock(1) without perl, and a holder that dies
// takes its lock with it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { NftlbError } from '../../src/common/errors.js';
import { systemExecutor, type Executor } from '../../src/system/executor.js';
import { resolveHost, type Host } from '../../src/system/host.js';
import { acquireLock } from '../../src/system/lock.js';
import { lockSession } from '../../src/system/lock-session.js';

function setup(t: ExecutionContext, exec: Executor = systemExecutor()): { host: Host; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'run', 'apply.lock');
  return { host: resolveHost(exec, {}, { lockFile: file, stateDir: dir }), file };
}

const busy = (e: unknown): boolean => e instanceof NftlbError && e.code === 'lock-busy';

// Calls of the executor by program, to tell perl's holder from flock(1).
function counting(): { exec: Executor; calls: string[] } {
  const base = systemExecutor();
  const calls: string[] = [];
  return {
    calls,
    exec: {
      run: (c, a, i) => base.run(c, a, i),
      start: (c, a) => (calls.push(`start ${c}`), base.start!(c, a)),
      interact: (c, a, f) => (calls.push(`interact ${c}`), base.interact!(c, a, f)),
    },
  };
}

test('the holder and flock(1) exclude each other: lock-busy at once, or after the wait', async (t) => {
  const { exec, calls } = counting();
  const { host, file } = setup(t, exec);
  const s = lockSession(host);
  t.teardown(() => s.close());
  const release = await s.acquire(0);
  const e = await t.throwsAsync(acquireLock(host, 0));
  t.true(busy(e), String(e));
  await release();
  const flock = await acquireLock(host, 0);
  const e2 = await t.throwsAsync(s.acquire(0));
  t.true(busy(e2));
  t.regex(e2!.message, new RegExp(`another nftlb apply holds ${file} \\(use --wait SECONDS to wait for it\\)`));
  const started = Date.now();
  const e3 = await t.throwsAsync(s.acquire(1));
  t.true(busy(e3));
  t.regex(e3!.message, /after waiting 1 s/);
  t.true(Date.now() - started >= 900, 'it waited');
  // Released while the holder waits: it gets the lock.
  const waiting = s.acquire(30);
  setTimeout(() => void flock(), 300);
  const again = await waiting;
  t.true(busy(await acquireLock(host, 0).catch((x: unknown) => x)));
  await again();
  await (
    await acquireLock(host, 0)
  )();
  t.is(calls.filter((c) => c.startsWith('interact')).length, 1, 'one holder process for every request');
  t.true(calls.every((c) => c === 'interact perl' || c === 'start flock'));
});

test('the holder serializes its own requests; a lock file made again is the one locked', async (t) => {
  const { host, file } = setup(t);
  const s = lockSession(host);
  t.teardown(() => s.close());
  const first = await s.acquire(0);
  let second = false;
  const next = s.acquire(0).then((r) => ((second = true), r));
  await new Promise((r) => setTimeout(r, 200));
  t.false(second, 'the second request waits for the first release');
  await first();
  const r2 = await next;
  await r2();
  unlinkSync(file);
  const r3 = await s.acquire(0);
  t.true(busy(await acquireLock(host, 0).catch((x: unknown) => x)), 'the new file is locked');
  await r3();
});

test('without perl the holder takes the lock with flock(1)', async (t) => {
  const { exec, calls } = counting();
  const { host } = setup(t, exec);
  const s = lockSession({ ...host, perl: '/nonexistent/perl' });
  t.teardown(() => s.close());
  const release = await s.acquire(0);
  t.true(busy(await acquireLock(host, 0).catch((x: unknown) => x)));
  await release();
  await (
    await acquireLock(host, 0)
  )();
  t.true(calls.includes('start flock'));
});

test('a process killed while its holder has the lock leaves it free', async (t) => {
  const { host, file } = setup(t);
  const module = fileURLToPath(new URL('../../src/system/lock-session.js', import.meta.url));
  const hosts = fileURLToPath(new URL('../../src/system/host.js', import.meta.url));
  const execs = fileURLToPath(new URL('../../src/system/executor.js', import.meta.url));
  const script = [
    `const { lockSession } = await import(${JSON.stringify(module)});`,
    `const { resolveHost } = await import(${JSON.stringify(hosts)});`,
    `const { systemExecutor } = await import(${JSON.stringify(execs)});`,
    `const s = lockSession(resolveHost(systemExecutor(), {}, { lockFile: ${JSON.stringify(file)} }));`,
    'await s.acquire(0); process.stdout.write("held\\n"); setInterval(() => undefined, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.once('exit', (c) => reject(new Error(`the holder's process exited with ${c}`)));
  });
  t.true(busy(await acquireLock(host, 0).catch((x: unknown) => x)), 'held by the other process');
  child.kill('SIGKILL');
  // perl reads the end of its input once its parent is gone, and exits: the kernel drops the lock.
  let free: (() => Promise<void>) | undefined;
  for (let i = 0; i < 200 && free === undefined; i++) {
    free = await acquireLock(host, 0).catch(() => undefined);
    if (free === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  t.not(free, undefined, 'the lock came free');
  await free?.();
});
