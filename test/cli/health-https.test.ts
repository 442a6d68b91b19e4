// `nftlb health` with https checks: the CA files are read before anything else, so a missing or empty one stops it
// with exit 4 naming the file and the check, with no probe run and nothing loaded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import { healthCommand } from '../../src/cli/health.js';
import { fakeSystem } from '../support/fake-system.js';
import { runCommand, scratch } from '../support/run-command.js';
import { testCerts } from '../support/tls-certs.js';

// The backend is on loopback (nothing listens on port 9 there): a probe never leaves the machine.
const config = (ca: string): string => `table: tls
services:
  - name: web
    vip: 203.0.113.1
    port: 443
    health: { type: https, ca: ${ca}, sni: backend.test, timeout: 0.2, interval: 1 }
    backends:
      - { address: 127.0.0.1, port: 9 }
`;

test('a CA file that is missing or holds no certificate: exit 4, the file and the check named, nothing loaded', async (t) => {
  const s = scratch(config('/nonexistent/ca.pem'));
  const junk = join(s.dir, 'junk.pem');
  writeFileSync(junk, 'nothing here\n');
  for (const [ca, message] of [
    ['/nonexistent/ca.pem', 'nftlb: cannot read CA file /nonexistent/ca.pem: ENOENT\n'],
    [junk, `nftlb: CA file ${junk} (the https check of services[0].backends[0]) holds no PEM certificate\n`],
  ] as const) {
    writeFileSync(s.config, config(ca));
    const exec = fakeSystem();
    const r = await runCommand(
      healthCommand,
      ['-c', s.config, '--once', '--state-dir', s.dir, '--lock-file', s.lock],
      exec,
    );
    t.is(r.code, EXIT.configRead, r.stderr);
    t.true(r.stderr.startsWith(message), r.stderr);
    t.deepEqual(exec.calls, []);
  }
});

test('a readable CA file: the round runs (the probe is refused, one failure is below fall) and loads the table', async (t) => {
  const s = scratch(config(testCerts().caFile));
  const exec = fakeSystem();
  const r = await runCommand(
    healthCommand,
    ['-c', s.config, '--once', '--json', '--state-dir', s.dir, '--lock-file', s.lock],
    exec,
  );
  t.is(r.code, EXIT.ok, r.stderr);
  t.like(JSON.parse(r.stdout), { checked: 1, action: 'full', transitions: [] });
});
