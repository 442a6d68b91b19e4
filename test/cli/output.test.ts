// Output discipline: -q and -v, the progress line (only on a terminal, never with --json or -q), and a closed pipe
// that ends every command quietly.
import test from 'ava';
import { execa } from 'execa';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { applyCommand } from '../../src/cli/apply.js';
import { checkCommand } from '../../src/cli/check.js';
import { diffCommand } from '../../src/cli/diff.js';
import { doctorCommand } from '../../src/cli/doctor.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { Progress, PROGRESS_DELAY_MS, type ProgressClock } from '../../src/cli/progress.js';
import { removeCommand } from '../../src/cli/remove.js';
import { renderCommand } from '../../src/cli/render.js';
import { statusCommand } from '../../src/cli/status.js';
import { showingSteps, type CommandContext } from '../../src/cli/context.js';
import type { ExecResult, Executor } from '../../src/system/executor.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

const WARN = `${CONFIG}  - name: lonely
    vip: 203.0.113.9
    port: 80
    quorum: 1
    backends:
      - { address: 198.51.100.9 }
`;

test('-q: apply, remove and render say nothing on stderr; check only when something is wrong', async (t) => {
  const s = scratch(WARN);
  const exec = fakeSystem();
  const loud = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, '--force'], exec);
  t.regex(loud.stderr, /warning: .*quorum[\s\S]*nftlb: applied table inet nftlb/);
  const q = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, '--force', '-q'], exec);
  t.deepEqual([q.code, q.stderr], [EXIT.ok, '']);
  const r = await runCommand(renderCommand, ['-c', s.config, '-q'], exec);
  t.deepEqual([r.code, r.stderr], [EXIT.ok, '']);
  t.regex(r.stdout, /^#!\/usr\/sbin\/nft -f/);
  const rm = await runCommand(removeCommand, ['-c', s.config, '--lock-file', s.lock, '--quiet'], exec);
  t.deepEqual([rm.code, rm.stderr], [EXIT.ok, '']);
  const ok = await runCommand(checkCommand, ['-c', scratch(CONFIG).config, '-q'], exec);
  t.deepEqual([ok.code, ok.stdout, ok.stderr], [EXIT.ok, '', '']);
  const bad = await runCommand(checkCommand, ['-c', scratch('services: 3\n').config, '-q'], exec);
  t.is(bad.code, EXIT.configInvalid);
  t.regex(bad.stderr, /services: expected/);
});

test('-q: diff prints no changes, only its exit code; doctor only what warns or fails', async (t) => {
  const s = scratch(CONFIG);
  const d = await runCommand(diffCommand, ['-c', s.config, '--lock-file', s.lock, '-q'], fakeSystem(), {
    NFTLB_STATE_DIR: s.dir,
  });
  t.deepEqual([d.code, d.stdout], [EXIT.differs, '']);
  const exec = fakeSystem({ missing: ['conntrack'] });
  exec.outputs.set('flock --version', { exitCode: 0, stdout: 'flock 1.0\n', stderr: '' });
  exec.outputs.set('iptables-legacy-save -t nat', { exitCode: 0, stdout: '', stderr: '' });
  const proc = async (): Promise<string | null> => '1';
  const all = await runCommand((ctx, e) => doctorCommand(ctx, e, proc), [], exec);
  const q = await runCommand((ctx, e) => doctorCommand(ctx, e, proc), ['-q'], exec);
  t.true(all.stdout.split('\n').some((l) => l.startsWith('ok ')));
  const lines = q.stdout.split('\n').filter((l) => /^\S/.test(l));
  t.true(lines.length > 0);
  t.true(
    lines.every((l) => l.startsWith('warn') || l.startsWith('fail')),
    q.stdout,
  );
});

test('-v: each command says what it did, with counts and times; -q and -v together are a usage error', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const env = { NFTLB_STATE_DIR: s.dir };
  const a = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, '-v'], exec, env);
  t.regex(a.stderr, /^nftlb: table inet nftlb: applied, 2 services, fingerprint [0-9a-f]+, was none \(\d+ ms\)$/m);
  const r = await runCommand(renderCommand, ['-c', s.config, '-v'], exec);
  t.regex(r.stderr, /: 2 services, 5 backends \(\d+ ms\)\nnftlb: nft script: \d+ bytes, fingerprint [0-9a-f]+/);
  const c = await runCommand(checkCommand, ['-c', s.config, '--verbose'], exec);
  t.regex(c.stderr, /table nftlb, 2 services, 5 backends/);
  const st = await runCommand(statusCommand, ['-c', s.config, '-v'], exec, env);
  t.regex(
    st.stderr,
    /^nftlb: table inet nftlb: live matches; 2 services, 5 backends; conntrack: 0 entries; counters: netlink dumps of the tables \(\d+ ms\)$/m,
  );
  // Where the counters came from when the dump fails.
  exec.countersDown = true;
  const listed = await runCommand(statusCommand, ['-c', s.config, '-v'], exec, env);
  t.regex(listed.stderr, /; counters: nft's JSON listing \(a netlink dump failed\) \(\d+ ms\)$/m);
  const d = await runCommand(diffCommand, ['-c', s.config, '--lock-file', s.lock, '-v'], exec, env);
  t.regex(d.stderr, /live matches, fingerprint [0-9a-f]+ \(live [0-9a-f]+\), 0 changes/);
  const both = await runCommand(applyCommand, ['-c', s.config, '-q', '-v'], exec);
  t.is(both.code, EXIT.usage);
});

/** What the progress line writes to erase itself (and before each drawing). */
const ERASE = '\r\u001b[K';
const marked = (s: string): string => s.split(ERASE).join('<K>');

// A clock and timer the test moves by hand.
function manualClock(): ProgressClock & { at: number; tick(): void } {
  const fns: (() => void)[] = [];
  return {
    at: 0,
    now() {
      return this.at;
    },
    every: (_ms, fn) => {
      fns.push(fn);
      return { stop: () => void fns.splice(fns.indexOf(fn), 1) };
    },
    tick: () => fns.forEach((f) => f()),
  };
}

test('the progress line: nothing for a second, then one line redrawn in place, erased before log lines and at the end', (t) => {
  let err = '';
  const io = { out: () => undefined, err: (s: string) => void (err += s) };
  const clock = manualClock();
  const p = new Progress(io, true, clock);
  p.step('reading conntrack');
  clock.tick();
  t.is(err, '', 'nothing before a second');
  clock.at = PROGRESS_DELAY_MS + 200;
  clock.tick();
  t.is(err, '\r\x1b[Knftlb: reading conntrack (1.2 s)');
  clock.at = 2500;
  p.step('putting the status together');
  t.true(err.endsWith('\r\x1b[Knftlb: putting the status together (2.5 s)'));
  const logged = p.wrap(io);
  err = '';
  logged.err('nftlb health: web 198.51.100.2:80: up -> down\n');
  t.is(err, '\r\x1b[Knftlb health: web 198.51.100.2:80: up -> down\n');
  clock.tick();
  err = '';
  p.done();
  t.is(err, '\r\x1b[K');
  clock.at = 5000;
  clock.tick();
  p.step('after the end');
  t.is(err, '\r\x1b[K', 'nothing once done');
  const off = new Progress(io, false, clock);
  err = '';
  off.step('not on a terminal');
  off.done();
  t.is(err, '');
});

test('on a terminal, the executor that names its steps keeps every way to run a program (a load stays streamed)', async (t) => {
  let err = '';
  const io = { out: () => undefined, err: (s: string) => void (err += s) };
  const clock = manualClock();
  const p = new Progress(io, true, clock);
  const fed: string[] = [];
  const exec: Executor = {
    run: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    feed: async (cmd, args, pieces, after) => {
      fed.push(`${cmd} ${args('/x/script.nft').join(' ')}: ${[...pieces].join('')}`);
      after?.();
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    interact: async () => ({ write: () => undefined, exited: Promise.resolve(0), end: async () => 0 }),
    start: async () => ({
      write: () => undefined,
      firstLine: async () => null,
      end: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    }),
    stream: async () => ({
      exited: Promise.resolve({ exitCode: 0, stdout: '', stderr: '' }),
      end: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    }),
  };
  const shown = showingSteps(exec, p);
  t.deepEqual(Object.keys(shown).sort(), Object.keys(exec).sort());
  let after = 0;
  await shown.feed!(
    'nft',
    (input) => ['-f', input],
    ['a', 'b'],
    () => after++,
  );
  t.deepEqual(fed, ['nft -f /x/script.nft: ab']);
  t.is(after, 1);
  clock.at = PROGRESS_DELAY_MS + 100;
  clock.tick();
  t.is(err, '\r\x1b[Knftlb: running nft -f <pipe> (1.1 s)');
  p.done();
});

// status with stderr on a terminal (errIsTTY) and a conntrack that answers only once the test has seen the line.
async function statusWithSlowConntrack(args: string[], tty: boolean): Promise<{ code: number; stderr: string }> {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  let stderr = '';
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const run = exec.run.bind(exec);
  exec.run = async (cmd: string, a: readonly string[], input?: string): Promise<ExecResult> => {
    if (cmd === 'conntrack') await released;
    return run(cmd, a, input);
  };
  let code = -1;
  const ctx: CommandContext = {
    io: { out: () => undefined, err: (x) => void (stderr += x), errIsTTY: tty },
    env: { NFTLB_STATE_DIR: s.dir },
    exit: (c) => void (code = c),
  };
  const done = statusCommand(ctx, exec)
    .exitOverride()
    .parseAsync(['-c', s.config, ...args], { from: 'user' });
  // Wait (bounded) for the line, or for 1.5 x the delay when none should come; then let conntrack answer.
  const until = Date.now() + 30_000;
  const quietFor = Date.now() + PROGRESS_DELAY_MS * 1.5;
  while (
    !stderr.includes('reading the live table and conntrack') &&
    Date.now() < (tty && !args.includes('--json') ? until : quietFor)
  )
    await new Promise((r) => setTimeout(r, 20));
  release();
  await done;
  return { code, stderr };
}

test('on a terminal, status shows what it waits for after a second, and erases it', async (t) => {
  const r = await statusWithSlowConntrack([], true);
  t.is(r.code, EXIT.ok);
  t.regex(marked(r.stderr), /^<K>nftlb: reading the live table and conntrack \(\d+\.\d s\)/);
  t.true(r.stderr.endsWith('\r\x1b[K'), JSON.stringify(r.stderr));
});

test('no progress line on a pipe, nor with --json on a terminal', async (t) => {
  t.is((await statusWithSlowConntrack([], false)).stderr, '');
  t.is((await statusWithSlowConntrack(['--json'], true)).stderr, '');
});

// The bundled program in a pseudo-terminal (script(1) from util-linux), against an nft that waits for the test.
test('in a pseudo-terminal, the bundled nftlb draws the line; on a pipe it does not', async (t) => {
  const s = scratch(CONFIG);
  const go = join(s.dir, 'go');
  const nft = join(s.dir, 'nft');
  writeFileSync(
    nft,
    // The listing of nftlb's tables (nft -t -f -, a script of list commands) finds none; anything else is refused.
    `#!/bin/sh\nn=0\nwhile [ ! -e ${go} ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\ncase " $* " in *" -f "*) cat >/dev/null; exit 0;; esac\necho "Error: No such file or directory" >&2\nexit 1\n`,
  );
  chmodSync(nft, 0o755);
  const env = { ...process.env, NFTLB_NFT: nft, NFTLB_CONNTRACK: '/nonexistent/conntrack', NFTLB_STATE_DIR: s.dir };
  const cmd = `${process.execPath} ${resolve('dist/nftlb.mjs')} status -c ${s.config}`;
  const child = execa('script', ['-qfec', cmd, '/dev/null'], { env, reject: false, stdin: 'ignore' });
  let seen = '';
  child.stdout!.on('data', (d: Buffer) => {
    seen += d.toString();
    if (seen.includes('nftlb: running') || seen.includes('nftlb: reading')) writeFileSync(go, '');
  });
  const r = await child;
  if (!existsSync(go)) writeFileSync(go, '');
  t.is(r.exitCode, 0, seen);
  t.regex(marked(seen), /<K>nftlb: [a-z ]+.* \(\d+\.\d s\)/);
  t.regex(seen, /table inet nftlb: not loaded/);
  const piped = await execa(process.execPath, ['dist/nftlb.mjs', 'status', '-c', s.config], { env, reject: false });
  t.is(piped.exitCode, 0);
  t.false(piped.stderr.includes(ERASE));
});

// Each command that writes on stdout, with the reader gone before it writes: exit 141 and nothing on stderr.
test('a reader that closes the pipe early ends every command quietly with 141', async (t) => {
  const s = scratch(CONFIG);
  const nft = join(s.dir, 'nft');
  writeFileSync(
    nft,
    '#!/bin/sh\ncase "$*" in *list*) echo "Error: No such file or directory" >&2; exit 1;; --version) echo nftables v1.0.6;; esac\n# The script is the last argument (-f FILE, or - for stdin), read whole.\nfor f; do :; done\ncat "$f" >/dev/null\n',
  );
  chmodSync(nft, 0o755);
  const save = join(s.dir, 'rules.v4');
  writeFileSync(
    save,
    '*nat\n-A PREROUTING -d 203.0.113.1/32 -p tcp --dport 80 -j DNAT --to-destination 198.51.100.2\nCOMMIT\n',
  );
  const env = { ...process.env, NFTLB_NFT: nft, NFTLB_STATE_DIR: s.dir, NFTLB_LOCK: s.lock };
  const c = ['-c', s.config];
  const commands = [
    ['render', ...c],
    ['render', ...c, '--json'],
    ['check', ...c, '--json'],
    ['apply', ...c, '--dry-run'],
    ['apply', ...c, '--json'],
    ['diff', ...c],
    ['status', ...c],
    ['status', ...c, '--prometheus'],
    ['remove', ...c, '--json'],
    ['doctor'],
    ['health', ...c, '--status'],
    ['health', ...c, '--once', '--json'],
    ['import', 'iptables', save],
    ['--help'],
    ['status', '--help'],
  ];
  for (const args of commands) {
    // The read end is closed before the child runs (spawn is synchronous), so its first write fails with EPIPE.
    const child = execa(process.execPath, ['dist/nftlb.mjs', ...args], { env, reject: false, buffer: false });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    const done = await child;
    t.is(done.exitCode, EXIT.brokenPipe, `nftlb ${args.join(' ')}: ${stderr}`);
    t.notRegex(stderr, /EPIPE|internal error|\n\s+at /, `nftlb ${args.join(' ')}`);
  }
});

test('status -o FILE writes into a directory that exists; a missing one is exit 13 and is not made; -o "" is exit 2', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const status = (out: string) =>
    runCommand(statusCommand, ['-c', s.config, '--prometheus', '-o', out], exec, { NFTLB_STATE_DIR: s.dir });
  const file = join(s.dir, 'nftlb.prom');
  t.is((await status(file)).code, EXIT.ok);
  t.true(existsSync(file));
  const typo = join(s.dir, 'textfile_colector', 'nftlb.prom');
  const r = await status(typo);
  t.is(r.code, EXIT.hostFault, r.stderr);
  t.regex(r.stderr, /textfile_colector/);
  t.false(existsSync(join(s.dir, 'textfile_colector')), 'a mistyped directory is not made');
  t.is((await status('')).code, EXIT.usage);
});
