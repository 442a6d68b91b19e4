// Host faults end in their own exit codes with the path and the fix, never in exit 1 (a bug): a state directory that
// is a file, a lock directory that cannot be made, `cat` missing for the lock, a read-only or full file system (in a
// private mount namespace, as root), and a table of nftlb's name that nftlb did not make.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { applyCommand } from '../../src/cli/apply.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { healthCommand } from '../../src/cli/health.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

const CHECKED = `table: hf
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: exec, command: "true" }
    backends:
      - { address: 198.51.100.2 }
`;

test('a state directory that is a regular file: health exits 13 naming the path', async (t) => {
  const s = scratch(CHECKED);
  const file = join(s.dir, 'not-a-dir');
  writeFileSync(file, 'x');
  for (const mode of ['--once', '--status']) {
    const r = await runCommand(
      healthCommand,
      ['-c', s.config, mode, '--state-dir', file, '--lock-file', s.lock],
      fakeSystem(),
    );
    t.is(r.code, EXIT.hostFault, `${mode}: ${r.stderr}`);
    t.true(r.stderr.includes(`${file}/health-hf.json`), r.stderr);
    t.regex(r.stderr, /a part of the path is a file, not a directory \(ENOTDIR\)/);
  }
});

test('a lock directory that cannot be made: apply exits 13 naming it, and loads nothing', async (t) => {
  const s = scratch(CONFIG);
  const file = join(s.dir, 'file');
  writeFileSync(file, 'x');
  const exec = fakeSystem();
  const r = await runCommand(applyCommand, ['-c', s.config, '--lock-file', join(file, 'apply.lock')], exec);
  t.is(r.code, EXIT.hostFault, r.stderr);
  t.regex(r.stderr, /cannot create the directory of the lock file .*\/file: /);
  t.false(exec.calls.some((c) => c.cmd === 'nft' && c.args.join(' ') === '-f -'));
});

test('a lock directory the file system will not make (under /proc): apply exits 13 at once, loads nothing', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const lock = `/proc/nftlb-test-${process.pid}/apply.lock`;
  const r = await runCommand(applyCommand, ['-c', s.config, '--lock-file', lock], exec);
  t.is(r.code, EXIT.hostFault, r.stderr);
  t.regex(r.stderr, /cannot create the directory of the lock file \/proc\/nftlb-test-[0-9]+: .*\(ENOENT\)/);
  t.false(exec.calls.some((c) => c.cmd === 'nft' && c.args.join(' ') === '-f -'));
});

test("a table of nftlb's name that nftlb did not make: apply and health refuse it (exit 14); --force replaces it", async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem({ live: { fingerprint: null } });
  const r = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, '--json'], exec, {
    NFTLB_STATE_DIR: s.dir,
  });
  t.is(r.code, EXIT.foreignTable);
  t.is(JSON.parse(r.stdout).error.code, 'foreign-table');
  t.regex(r.stderr, /table inet nftlb exists but was not made by nftlb .*nothing was changed\n.*apply --force/);
  t.deepEqual(exec.loads(true), []);
  const f = await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock, '--force'], exec, {
    NFTLB_STATE_DIR: s.dir,
  });
  t.is(f.code, EXIT.ok, f.stderr);
  t.is(exec.loads().length, 1);

  const h = scratch(CHECKED);
  const hx = fakeSystem({ live: { table: 'hf', fingerprint: null } });
  const args = ['-c', h.config, '--once', '--state-dir', h.dir, '--lock-file', h.lock];
  const once = await runCommand(healthCommand, args, hx);
  t.is(once.code, EXIT.foreignTable, once.stderr);
  t.deepEqual(hx.loads(true), []);
  const forced = await runCommand(healthCommand, [...args, '--force'], hx);
  t.is(forced.code, EXIT.ok, forced.stderr);
  t.is(hx.loads().length, 1);
});

// A fake nft for the real binary: `list` says there is no table, everything else succeeds.
function fakeNft(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'nft'),
    `#!/bin/sh\ncase "$*" in *list*) echo "Error: No such file or directory" >&2; exit 1;; esac\n# The script is the last argument (-f FILE, or - for stdin), read whole; each load is logged.\nfor f; do :; done\ncat "$f" >/dev/null\necho "$*" >>${join(dir, 'loads.log')}\n`,
  );
  chmodSync(join(bin, 'nft'), 0o755);
  return bin;
}

const nftlb = join(process.cwd(), 'dist', 'nftlb.mjs');

test('cat missing for the lock: apply exits 7 naming cat', async (t) => {
  const s = scratch(CONFIG);
  const bin = fakeNft(s.dir);
  const flockPath = (await execa('sh', ['-c', 'command -v flock'])).stdout.trim();
  // Only flock and the fake nft on PATH: flock cannot run cat.
  const { symlinkSync } = await import('node:fs');
  symlinkSync(flockPath, join(bin, 'flock'));
  const r = await execa(process.execPath, [nftlb, 'apply', '-c', s.config], {
    env: { PATH: bin, NFTLB_LOCK: s.lock, NFTLB_STATE_DIR: s.dir },
    extendEnv: false,
    reject: false,
  });
  t.is(r.exitCode, EXIT.toolMissing, r.stderr);
  t.regex(r.stderr, /cat \(coreutils\) is not installed or not on PATH/);
});

test('a flock program that takes no lock (not flock, or a reason flock gives that nftlb does not know): exit 13, not a bug', async (t) => {
  const s = scratch(CONFIG);
  const bin = fakeNft(s.dir);
  for (const [flock, status] of [
    ['/bin/true', 0],
    ['/bin/false', 1],
  ] as const) {
    const r = await execa(process.execPath, [nftlb, 'apply', '-c', s.config], {
      env: { PATH: `${bin}:/usr/bin:/bin`, NFTLB_FLOCK: flock, NFTLB_LOCK: s.lock, NFTLB_STATE_DIR: s.dir },
      extendEnv: false,
      reject: false,
    });
    t.is(r.exitCode, EXIT.hostFault, r.stderr);
    t.true(r.stderr.includes(`cannot take lock ${s.lock}: ${flock} exited with ${status}`), r.stderr);
    t.regex(r.stderr, /check the lock file \(--lock-file, \$NFTLB_LOCK\) and the flock program \(\$NFTLB_FLOCK/);
  }
});

// Runs a shell script in a private mount namespace (root only): mounts made there never reach the host.
async function inMountNamespace(
  t: import('ava').ExecutionContext,
  script: string,
): Promise<{ exitCode?: number; stdout: string; stderr: string } | null> {
  if (process.getuid?.() !== 0) {
    if (process.env['CI'] === 'true') t.fail('host-fault tests need root in CI');
    else t.log('SKIPPED: needs root for a private mount namespace');
    return null;
  }
  const r = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', script], { reject: false });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

test('a read-only lock directory: apply exits 13 with the path, the reason and the fix', async (t) => {
  const s = scratch(CONFIG);
  const bin = fakeNft(s.dir);
  const ro = join(s.dir, 'ro');
  mkdirSync(ro);
  const r = await inMountNamespace(
    t,
    `mount -t tmpfs -o ro,size=64k tmpfs ${ro}
PATH=${bin}:$PATH NFTLB_LOCK=${ro}/run/apply.lock NFTLB_STATE_DIR=${s.dir} ${process.execPath} ${nftlb} apply -c ${s.config}`,
  );
  if (r === null) return;
  t.is(r.exitCode, EXIT.hostFault, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      `cannot create the directory of the lock file ${ro}/run: the file system is read-only \\(EROFS\\); use a writable directory`,
    ),
  );
});

test('a lock directory that turned read-only after the lock file was made: apply loads, and says its records are not written', async (t) => {
  const s = scratch(CONFIG);
  const bin = fakeNft(s.dir);
  const ro = join(s.dir, 'ro');
  mkdirSync(ro);
  const r = await inMountNamespace(
    t,
    `mount -t tmpfs -o size=64k tmpfs ${ro}
mkdir ${ro}/run && touch ${ro}/run/apply.lock
mount -o remount,ro ${ro}
PATH=${bin}:$PATH NFTLB_LOCK=${ro}/run/apply.lock NFTLB_STATE_DIR=${s.dir} ${process.execPath} ${nftlb} apply -c ${s.config} --json`,
  );
  if (r === null) return;
  t.is(r.exitCode, EXIT.ok, r.stderr);
  t.regex(
    r.stderr,
    /warning: the table is loaded, but its records are not written \(cannot write .*EROFS.*\): the next apply/,
  );
  t.regex(JSON.parse(r.stdout).unrecorded, /EROFS/);
});

test('a full state file system: health --once exits 13 and the old state file stays whole', async (t) => {
  const s = scratch(CHECKED);
  const bin = fakeNft(s.dir);
  const full = join(s.dir, 'full');
  mkdirSync(full);
  const r = await inMountNamespace(
    t,
    `mount -t tmpfs -o size=16k tmpfs ${full}
echo '{"version": 3, "table": "hf", "live": null, "loaded": {"health": {}, "lastKnown": {}}, "backends": {}}' > ${full}/health-hf.json
cp ${full}/health-hf.json ${s.dir}/before.json
dd if=/dev/zero of=${full}/filler bs=4k 2>/dev/null || true
set +e
PATH=${bin}:$PATH ${process.execPath} ${nftlb} health --once -c ${s.config} --state-dir ${full} --lock-file ${s.lock}
rc=$?
cmp ${full}/health-hf.json ${s.dir}/before.json && echo "state file unchanged" >&2
exit $rc`,
  );
  if (r === null) return;
  t.is(r.exitCode, EXIT.hostFault, r.stderr);
  t.regex(r.stderr, new RegExp(`cannot write ${full}/health-hf.json: no space left on the device \\(ENOSPC\\)`));
  t.regex(r.stderr, /state file unchanged/);
  t.is(readFileSync(join(s.dir, 'before.json'), 'utf8').includes('"version": 3'), true);
  // Found before the table was touched: health could not have recorded what it loaded.
  t.false(existsSync(join(s.dir, 'loads.log')), 'no load');
});
