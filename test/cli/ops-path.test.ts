import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

test('a fake nft on PATH sees the listing and the load, with the script on stdin', async (t) => {
  const s = scratch(CONFIG);
  const log = join(s.dir, 'nft.log');
  const fake = join(s.dir, 'nft');
  // Records argv and stdin; `list` answers "no such table"; everything else succeeds.
  writeFileSync(
    fake,
    `#!/bin/sh\necho "ARGS $*" >>${log}\ncase "$*" in *list*) echo "Error: No such file or directory" >&2; exit 1;; esac\ncat >>${log}\n`,
  );
  chmodSync(fake, 0o755);
  const r = await cli(['apply', '-c', s.config], { PATH: `${s.dir}:/usr/bin:/bin`, NFTLB_LOCK: s.lock });
  t.is(r.code, EXIT.ok, r.stderr);
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(log, 'utf8');
  t.deepEqual(
    text.split('\n').filter((l) => l.startsWith('ARGS')),
    ['ARGS -t -f -', 'ARGS -f -'],
  );
  t.is(text.split('table inet nftlb {}\ndelete table inet nftlb\n').length, 2, 'the script reached nft once on stdin');
});

test('NFTLB_NFT points at an nft outside PATH', async (t) => {
  const s = scratch(CONFIG);
  const fake = join(s.dir, 'my-nft');
  writeFileSync(
    fake,
    '#!/bin/sh\ncase "$*" in *list*) echo "Error: No such file or directory" >&2; exit 1;; esac\ncat >/dev/null\n',
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
