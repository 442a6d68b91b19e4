// The real executor's detached run: a program's output that does not fit a pipe reaches the caller whole, and the
// program finishes while node's event loop is blocked (apply lists the tables while it plans, synchronously).
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
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

// Serial, with a $TMPDIR of its own: nothing the run made may be left there, whatever other tests (or other nftlb
// processes on the machine) make in the shared one meanwhile. (The run removes its directory once its file is open.)
test.serial(
  'a detached run finishes while node is blocked, and its output arrives whole; its temporary file is gone',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'nftlb-exec-test-'));
    const own = mkdtempSync(join(tmpdir(), 'nftlb-exec-tmp-'));
    const old = process.env['TMPDIR'];
    process.env['TMPDIR'] = own;
    try {
      const run = systemExecutor().run('sh', program(dir), '', { detached: true });
      t.true(await appears(join(dir, 'started')), 'the program started');
      t.true(appearsWhileBlocked(join(dir, 'done')), 'the program printed all of it while the event loop was blocked');
      const r = await run;
      t.is(r.exitCode, 0);
      t.is(r.stdout.length, BYTES + 3);
      t.true(r.stdout.endsWith('xxxend'));
      t.deepEqual(readdirSync(own), [], 'nothing of the run is left in $TMPDIR');
    } finally {
      if (old === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = old;
      rmSync(dir, { recursive: true, force: true });
      rmSync(own, { recursive: true, force: true });
    }
  },
);

test('a run through a pipe gives the same result, exit code and stderr included', async (t) => {
  const exec = systemExecutor();
  const args = ['-c', 'printf out; printf err >&2; exit 3'];
  t.deepEqual(await exec.run('sh', args, ''), await exec.run('sh', args, '', { detached: true }));
});

test.serial(
  'a detached run where $TMPDIR cannot take its file goes through a pipe, with the same result',
  async (t) => {
    const old = process.env['TMPDIR'];
    const dir = mkdtempSync(join(tmpdir(), 'nftlb-exec-test-'));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const args = ['-c', 'printf out; printf err >&2; exit 3'];
    try {
      const piped = await systemExecutor().run('sh', args, '');
      for (const bad of [join(dir, 'missing'), file]) {
        process.env['TMPDIR'] = bad;
        t.deepEqual(await systemExecutor().run('sh', args, '', { detached: true }), piped, bad);
      }
    } finally {
      if (old === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = old;
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a detached run of a program that is not installed is tool-missing', async (t) => {
  await t.throwsAsync(systemExecutor().run('nftlb-no-such-program', [], '', { detached: true }), {
    message: /not installed/,
  });
});

// feed(): the pieces go through a named pipe the program reads as a file, as they are made. Each test runs alone with
// a temporary directory of its own (TMPDIR), so what feed leaves there is its own.
let feedTmp = '';
const feeds = (): string[] => readdirSync(feedTmp);
const feedTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void =>
  test.serial(title, async (t) => {
    const old = process.env['TMPDIR'];
    feedTmp = mkdtempSync(join(tmpdir(), 'nftlb-exec-tmp-'));
    process.env['TMPDIR'] = feedTmp;
    try {
      await fn(t);
    } finally {
      if (old === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = old;
      rmSync(feedTmp, { recursive: true, force: true });
    }
  });

feedTest('feed writes the pieces to a named pipe the program reads as its input file, then removes it', async (t) => {
  const pieces = ['table inet x {\n', ...Array.from({ length: 300 }, (_, i) => `\tchain c${i} {\n\t}\n`), '}\n'];
  let after = 0;
  const r = await systemExecutor().feed!(
    'sh',
    (input) => ['-c', '[ -p "$0" ] && printf "pipe %s\\n" "$0"; cat -- "$0"', input],
    pieces,
    () => after++,
  );
  t.is(r.exitCode, 0, r.stderr);
  const [first, ...rest] = r.stdout.split('\n');
  t.regex(first ?? '', /^pipe \/\S+\/nftlb-feed-[^/]+\/script\.nft$/);
  t.is(rest.join('\n'), pieces.join(''));
  t.is(after, 1, 'afterInput ran once');
  t.deepEqual(feeds(), [], 'the directory of the pipe is gone');
});

feedTest('feed: the program reads the first pieces while the rest are still being made', async (t) => {
  const dir = mkdtempSync(join(feedTmp, '..', 'nftlb-exec-test-'));
  try {
    const first = join(dir, 'first');
    // Reads the first 6 bytes into `first` as soon as they come, then the rest.
    const program = ['-c', `exec 3<"$0"; head -c 6 <&3 >${first}.tmp && mv ${first}.tmp ${first}; cat <&3`];
    const pieces = function* (): Generator<string> {
      yield 'first\n';
      // The generator blocks node here: the program can have the first piece only from the pipe, already.
      t.true(appearsWhileBlocked(first), 'the program read the first piece before the second was made');
      yield 'second\n';
    };
    const r = await systemExecutor().feed!('sh', (input) => [...program, input], pieces());
    t.is(r.exitCode, 0, r.stderr);
    t.is(r.stdout, 'second\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

feedTest('feed: a generator that throws kills the program before its input ends; the pipe is removed', async (t) => {
  const dir = mkdtempSync(join(feedTmp, '..', 'nftlb-exec-test-'));
  try {
    const seen = join(dir, 'seen');
    // One process (perl) that reads its input to the end, then says so: killed first, it never does.
    const program = [
      '-e',
      'open my $f, "<", $ARGV[0] or die; local $/; my $x = <$f>; open my $o, ">", $ARGV[1]; print $o length $x',
    ];
    const pieces = function* (): Generator<string> {
      yield 'a'.repeat(100000);
      throw new Error('render failed');
    };
    await t.throwsAsync(
      systemExecutor().feed!('perl', (input) => [...program, input, seen], pieces()),
      {
        message: 'render failed',
      },
    );
    t.false(existsSync(seen), 'the program never saw the end of its input');
    t.deepEqual(feeds(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

feedTest('feed: a program that ends without opening the pipe ends the feed with its exit status', async (t) => {
  const r = await systemExecutor().feed!('sh', () => ['-c', 'echo refused >&2; exit 3'], ['a'.repeat(1 << 20)]);
  t.is(r.exitCode, 3);
  t.is(r.stderr, 'refused\n');
  t.deepEqual(feeds(), []);
});

feedTest('feed: a program that exits 0 without opening the pipe read nothing: the feed fails', async (t) => {
  const r = await systemExecutor().feed!('sh', (input) => ['-c', 'echo said >&2; exit 0', input], [
    'a'.repeat(1 << 20),
  ]);
  t.is(r.exitCode, 1);
  t.is(r.stderr, 'said\nsh -c echo said >&2; exit 0 FILE exited 0 without opening FILE: it read none of the script\n');
  t.deepEqual(feeds(), []);
});

feedTest('feed: a program that is not installed is tool-missing', async (t) => {
  await t.throwsAsync(
    systemExecutor().feed!('nftlb-no-such-program', (input) => ['-f', input], ['x']),
    {
      message: /not installed/,
    },
  );
});

feedTest('feed: where no named pipe can be made (no mkfifo), the pieces go to the program on stdin', async (t) => {
  const r = await systemExecutor({ PATH: '/nonexistent' }).feed!(
    '/bin/sh',
    (input) => ['-c', 'printf "%s:" "$0"; exec /bin/cat', input],
    ['one ', 'two'],
  );
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, '-:one two');
});

feedTest('feed: with no temporary directory to make the pipe in, the pieces go to the program on stdin', async (t) => {
  process.env['TMPDIR'] = join(feedTmp, 'no', 'such', 'dir');
  const r = await systemExecutor().feed!('sh', (input) => ['-c', 'printf "%s:" "$0"; exec cat', input], [
    'one ',
    'two',
  ]);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, '-:one two');
});

// A program given input by node, which is killed while it writes: the program is killed too (setpriv --pdeathsig).
for (const mode of ['feed', 'run', 'interact'])
  feedTest(
    `${mode}: when node dies while it writes, the program dies too and never sees the end of its input`,
    async (t) => {
      const dir = mkdtempSync(join(feedTmp, '..', 'nftlb-exec-test-'));
      const [pidFile, go, seen] = ['pid', 'go', 'seen'].map((f) => join(dir, f));
      let pid: number | undefined;
      const alive = (p: number): boolean => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      };
      const script = fileURLToPath(new URL('../support/feed-child.js', import.meta.url));
      const child = execa(process.execPath, [script, mode, pidFile!, go!, seen!], { reject: false });
      try {
        t.true(await appears(pidFile!), 'the program started');
        pid = Number(readFileSync(pidFile!, 'utf8'));
        // Never 0 or 1 (or not a number): a kill of those would reach the whole process group, or init.
        if (!Number.isInteger(pid) || pid <= 1) throw new Error(`not a pid: ${String(pid)}`);
        child.kill('SIGKILL');
        await child;
        writeFileSync(go!, '');
        for (let i = 0; i < 3000 && alive(pid); i++) await sleep(10);
        t.false(alive(pid), 'the program died with node');
        t.false(existsSync(seen!), 'it never took the end of the pipe for the end of its input');
      } finally {
        child.kill('SIGKILL');
        if (pid !== undefined && pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

feedTest('feed: a program that stops reading halfway and exits ends the feed with its exit status', async (t) => {
  const pieces = Array.from({ length: 64 }, () => 'x'.repeat(64 << 10));
  const r = await systemExecutor().feed!(
    'sh',
    (input) => ['-c', 'head -c 10 "$0" >/dev/null; echo stopped >&2; exit 4', input],
    pieces,
  );
  t.is(r.exitCode, 4);
  t.is(r.stderr, 'stopped\n');
  t.deepEqual(feeds(), []);
});
