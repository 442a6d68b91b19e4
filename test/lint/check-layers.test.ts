// scripts/check-layers.mjs, which `make lint` runs: it passes on src/ and catches each kind of violation.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';

const check = (dir?: string) =>
  execa('node', ['scripts/check-layers.mjs', ...(dir === undefined ? [] : [dir])], { reject: false });

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'nftlb-layers-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('src/ follows its layers', async (t) => {
  const r = await check();
  t.is(r.exitCode, 0, r.stderr);
});

test('an import of a higher layer, a folder in no layer and nft text outside src/nft are each reported', async (t) => {
  const root = tree({
    'plan/plan.ts': "import { ident } from '../nft/names.js';\nimport type { X } from './types.js';\n",
    'config/rules/weights.ts':
      "import { reduce } from '../../plan/weights.js';\nimport { a } from '../../health/a.js';\n",
    'nft/names.ts': "export const s = 'add chain inet t x';\n",
    'ops/remove.ts':
      'const T = `inet ${name}`;\nexport const s = `table inet ${name} {}\\ndelete table inet ${name}`;\n',
    'ops/msg.ts': 'export const m = `table inet ${name}: removed`;\n',
    'extra/x.ts': 'export {};\n',
    'ops/files.ts': "import { readFile } from 'node:fs/promises';\nimport { execa } from 'execa';\n",
    'health/probe.ts': "import * as net from 'node:net';\n",
    'system/light-executor.ts': "import { execFile } from 'node:child_process';\n",
    'system/executor.ts': "import { spawn } from 'node:child_process';\nimport { execa } from 'execa';\n",
  });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const r = await check(root);
  t.is(r.exitCode, 1);
  const lines = r.stderr.trim().split('\n');
  t.true(lines.some((l) => /plan\/plan\.ts:1: plan imports \.\.\/nft\/names\.js, from the nft layer above it/.test(l)));
  t.true(lines.some((l) => /config\/rules\/weights\.ts:2: config imports \.\.\/\.\.\/health\/a\.js/.test(l)));
  t.false(
    lines.some((l) => /weights\.ts:1/.test(l)),
    'config may import plan, below it',
  );
  t.true(lines.some((l) => /ops\/remove\.ts:2: nft command text outside src\/nft/.test(l)));
  t.false(
    lines.some((l) => /msg\.ts|nft\/names\.ts/.test(l)),
    'messages and src/nft are fine',
  );
  t.true(lines.some((l) => /extra\/x\.ts:1: extra is not a layer/.test(l)));
  t.true(lines.some((l) => /ops\/files\.ts:1: ops imports node:fs\/promises; only system may touch the host/.test(l)));
  t.true(lines.some((l) => /ops\/files\.ts:2: ops imports execa/.test(l)));
  t.false(
    lines.some((l) => /health\/probe\.ts/.test(l)),
    'health probes may open sockets',
  );
  t.true(
    lines.some((l) =>
      /system\/executor\.ts:1: system\/executor\.ts imports node:child_process; only system\/light-executor\.ts may/.test(
        l,
      ),
    ),
  );
  t.false(
    lines.some((l) => /light-executor\.ts:\d|executor\.ts:2:/.test(l)),
    "apply's fast-path executor may use child_process; execa is system's",
  );
});
