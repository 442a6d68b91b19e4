import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { diffServices } from '../../src/ops/diff.js';
import { applyRecordFile } from '../../src/ops/apply-record.js';
import type { ServiceView } from '../../src/ops/view.js';
import { diffCommand } from '../../src/cli/diff.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

const svc = (name: string, backends: [string, number, string][], over: Partial<ServiceView> = {}): ServiceView => ({
  name,
  vips: ['203.0.113.1'],
  protocols: ['tcp'],
  ports: ['80'],
  scheduler: 'round-robin',
  nat: 'masquerade',
  onEmpty: 'reject',
  backends: backends.map(([endpoint, weight, state], i) => ({ id: i + 1, endpoint, weight, state })),
  ...over,
});

test('diffServices names services and backends added, removed and changed', (t) => {
  const a = [
    svc('web', [
      ['198.51.100.2:8080', 1, 'up'],
      ['198.51.100.3:8080', 1, 'up'],
    ]),
    svc('old', []),
  ];
  const b = [
    svc(
      'web',
      [
        ['198.51.100.3:8080', 2, 'down'],
        ['198.51.100.4:8080', 1, 'up'],
      ],
      { ports: ['81'] },
    ),
    svc('new', [['198.51.100.9:53', 1, 'up']]),
  ];
  t.deepEqual(diffServices(a, b), [
    { kind: 'service-removed', service: 'old' },
    { kind: 'service-changed', service: 'web', field: 'port', from: '80', to: '81' },
    { kind: 'backend-removed', service: 'web', backend: '198.51.100.2:8080' },
    { kind: 'backend-changed', service: 'web', backend: '198.51.100.3:8080', field: 'weight', from: '1', to: '2' },
    { kind: 'backend-changed', service: 'web', backend: '198.51.100.3:8080', field: 'state', from: 'up', to: 'down' },
    { kind: 'backend-added', service: 'web', backend: '198.51.100.4:8080' },
    { kind: 'service-added', service: 'new' },
    { kind: 'backend-added', service: 'new', backend: '198.51.100.9:53' },
  ]);
  t.deepEqual(diffServices(b, b), []);
});

test('diff: exit 12 with every service added when no table is live; exit 0 once it matches', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem();
  const r = await runCommand(diffCommand, ['-c', s.config, '--lock-file', s.lock], exec, { NFTLB_STATE_DIR: s.dir });
  t.is(r.code, EXIT.differs);
  t.regex(r.stdout, /^\+ service web\n\+ backend 198\.51\.100\.2:8080 \(service web\)\n/);
  const j = await runCommand(diffCommand, ['-c', s.config, '--lock-file', s.lock, '--json'], exec, {
    NFTLB_STATE_DIR: s.dir,
  });
  const d = JSON.parse(j.stdout) as { live: string; fingerprint: { config: string }; changes: unknown[] };
  t.is(d.live, 'absent');
  t.is(d.changes.length, 7);
  exec.calls.length = 0;
  const same = fakeSystem({ live: { fingerprint: d.fingerprint.config } });
  const m = await runCommand(diffCommand, ['-c', s.config, '--lock-file', s.lock], same, { NFTLB_STATE_DIR: s.dir });
  t.deepEqual(m, { code: 0, stdout: '', stderr: '' });
});

test('diff trusts the record of the last apply only while the live table carries its fingerprint', async (t) => {
  const s = scratch(CONFIG);
  const recorded = [svc('web', [['198.51.100.2:8080', 1, 'up']])];
  mkdirSync(join(s.dir, 'run'), { recursive: true });
  writeFileSync(
    applyRecordFile(join(s.dir, 'run'), 'nftlb'),
    JSON.stringify({ table: 'nftlb', fingerprint: 'aaaa', services: recorded }),
  );
  const trusted = await runCommand(
    diffCommand,
    ['-c', s.config, '--lock-file', s.lock],
    fakeSystem({ live: { fingerprint: 'aaaa' } }),
    { NFTLB_STATE_DIR: s.dir },
  );
  t.is(trusted.code, EXIT.differs);
  t.regex(trusted.stdout, /^~ service web: vip 203\.0\.113\.1 -> 203\.0\.113\.1, 2001:db8:1::1\n/);
  t.regex(trusted.stdout, /\+ service dns\n/);
  const stale = await runCommand(
    diffCommand,
    ['-c', s.config, '--lock-file', s.lock],
    fakeSystem({ live: { fingerprint: 'bbbb' } }),
    { NFTLB_STATE_DIR: s.dir },
  );
  t.is(stale.code, EXIT.differs);
  t.regex(
    stale.stdout,
    /^! whole table would be replaced: the live table \(fingerprint bbbb\) was not loaded by nftlb apply/,
  );
  const foreign = await runCommand(
    diffCommand,
    ['-c', s.config, '--lock-file', s.lock],
    fakeSystem({ live: { fingerprint: null } }),
    { NFTLB_STATE_DIR: s.dir },
  );
  t.regex(foreign.stdout, /was not made by nftlb/);
  const missing = await runCommand(
    diffCommand,
    ['-c', s.config, '--lock-file', s.lock],
    fakeSystem({ missing: ['nft'] }),
    { NFTLB_STATE_DIR: s.dir },
  );
  t.is(missing.code, 7);
});
