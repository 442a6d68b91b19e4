import { chmodSync, closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cli } from '../support/cli.js';
import { CONFIG, scratch } from '../support/run-command.js';

// The real executor against a PATH without nft, and against a fake nft script (no kernel involved).

test('apply with no nft on PATH exits 7 with the documented message', async (t) => {
  const s = scratch(CONFIG);
  const r = await cli(['apply', '-c', s.config], { PATH: '/usr/bin:/bin', NFTLB_LOCK: s.lock });
  t.is(r.code, EXIT.toolMissing);
  t.is(r.stderr, 'nftlb: nft is not installed or not on PATH\n');
});

test('a fake nft on PATH sees the listing on stdin, and the load as a named pipe it reads as a file', async (t) => {
  const s = scratch(CONFIG);
  const log = join(s.dir, 'nft.log');
  const fake = join(s.dir, 'nft');
  // Records argv and its input (stdin, or the file after -f: a named pipe); `list` answers "no such table"; everything
  // else succeeds.
  writeFileSync(
    fake,
    `#!/bin/sh\necho "ARGS $*" >>${log}\ncase "$*" in *list*) echo "Error: No such file or directory" >&2; exit 1;; esac\n` +
      `if [ "$1" = "-f" ] && [ "$2" != "-" ]; then { [ -p "$2" ] && echo PIPE; cat "$2"; } >>${log}; else cat >>${log}; fi\n`,
  );
  chmodSync(fake, 0o755);
  const r = await cli(['apply', '-c', s.config], { PATH: `${s.dir}:/usr/bin:/bin`, NFTLB_LOCK: s.lock });
  t.is(r.code, EXIT.ok, r.stderr);
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(log, 'utf8');
  const args = text.split('\n').filter((l) => l.startsWith('ARGS'));
  t.is(args.length, 2);
  t.is(args[0], 'ARGS -t -f -');
  t.regex(args[1] ?? '', /^ARGS -f \/\S+\/nftlb-feed-[^/]+\/script\.nft$/);
  t.regex(text, /\nPIPE\n/, 'the script came through a named pipe');
  t.is(text.split('table inet nftlb {}\ndelete table inet nftlb\n').length, 2, 'the script reached nft once');
  const fifo = (args[1] ?? '').slice('ARGS -f '.length);
  t.false(existsSync(dirname(fifo)), 'its directory is gone');
});

test('NFTLB_NFT points at an nft outside PATH', async (t) => {
  const s = scratch(CONFIG);
  const fake = join(s.dir, 'my-nft');
  writeFileSync(
    fake,
    '#!/bin/sh\ncase "$*" in *list*) echo "Error: No such file or directory" >&2; exit 1;; esac\n# The script is the last argument (-f FILE, or - for stdin), read whole.\nfor f; do :; done\ncat "$f" >/dev/null\n',
  );
  chmodSync(fake, 0o755);
  const r = await cli(['apply', '-c', s.config], { PATH: '/usr/bin:/bin', NFTLB_LOCK: s.lock, NFTLB_NFT: fake });
  t.is(r.code, EXIT.ok, r.stderr);
});

test('a reader that closes the pipe early ends nftlb quietly with 141, as SIGPIPE would', async (t) => {
  const s = scratch(CONFIG);
  const { execa } = await import('execa');
  // The read end is closed before the child runs (spawn is synchronous), so its first write fails with EPIPE.
  const child = execa(process.execPath, ['dist/nftlb.mjs', 'render', '-c', s.config], { reject: false, buffer: false });
  child.stdout!.destroy();
  const done = await child;
  t.is(done.exitCode, EXIT.brokenPipe, String(done.stderr));
  t.is(String(done.stderr ?? ''), '');
});

test('a reader that closes the pipe halfway through a long script ends nftlb with 141, not 0', async (t) => {
  // ~1 MB of script: far more than a pipe holds, so most of it is still queued in node when the reader goes. nftlb
  // exits as soon as its writes are done (src/cli/main.ts): a write that failed must not count as done.
  const services = Array.from(
    { length: 3000 },
    (_, i) =>
      `  - name: s${i}\n    vip: 203.0.113.1\n    port: ${1000 + i}\n    backends:\n` +
      `      - address: 198.51.100.${1 + (i % 200)}\n        port: 80\n`,
  );
  const s = scratch(`services:\n${services.join('')}`);
  const { execa } = await import('execa');
  const child = execa(process.execPath, ['dist/nftlb.mjs', 'render', '-c', s.config], { reject: false, buffer: false });
  let first = 0;
  await new Promise<void>((resolve) =>
    child.stdout!.once('data', (d: Buffer) => {
      first = d.length;
      child.stdout!.destroy();
      resolve();
    }),
  );
  const done = await child;
  t.true(first > 0);
  t.is(done.exitCode, EXIT.brokenPipe, String(done.stderr));
  t.is(String(done.stderr ?? ''), '');
});

// The bundled nftlb run with some of its standard streams on files of the test's (file descriptors); what it printed
// on the others, and its exit status.
async function bundleWith(
  args: string[],
  fds: { stdin?: number; stdout?: number; stderr?: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['dist/nftlb.mjs', ...args], {
    stdio: [fds.stdin ?? 'ignore', fds.stdout ?? 'pipe', fds.stderr ?? 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

test('a stdout that cannot be written (a full disk) is exit 13 with the reason; a stderr only loses the messages', async (t) => {
  const s = scratch(CONFIG);
  const bad = scratch('services: [{name: 1}]\n');
  // nftlb's own stdout or stderr is /dev/full (execa's { file } would copy through a pipe of its own, which never
  // fills).
  const full = openSync('/dev/full', 'w');
  try {
    const render = await bundleWith(['render', '-c', s.config], { stdout: full });
    t.is(render.code, EXIT.hostFault, render.stderr);
    t.is(render.stderr, 'nftlb: cannot write to stdout: ENOSPC\n');
    // check writes on stderr only: nftlb writes nothing more to stdout on its way out (an empty write to /dev/full
    // fails too).
    t.is((await bundleWith(['check', '-c', s.config], { stdout: full })).code, EXIT.ok);
    // With stderr full, each command still ends as it would have, its messages lost.
    t.is((await bundleWith(['check', '-c', s.config], { stderr: full })).code, EXIT.ok);
    t.is((await bundleWith(['check', '-c', bad.config], { stderr: full })).code, EXIT.configInvalid);
    const printed = await bundleWith(['render', '-c', s.config], { stderr: full });
    t.is(printed.code, EXIT.ok);
    t.regex(printed.stdout, /^#!\/usr\/sbin\/nft -f/);
  } finally {
    closeSync(full);
  }
});

test('nftlb import iptables with a directory as stdin is exit 4, not an empty config', async (t) => {
  const dir = openSync(tmpdir(), 'r');
  try {
    const r = await bundleWith(['import', 'iptables', '-'], { stdin: dir });
    t.is(r.code, EXIT.configRead, r.stderr);
    t.is(r.stdout, '');
    t.regex(r.stderr, /cannot read <stdin>: it is a directory/);
  } finally {
    closeSync(dir);
  }
});
