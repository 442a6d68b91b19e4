// The forward filter and the connection log outside the kernel: the prefixes and defaults they are read with, what
// status (table, JSON, Prometheus) and diff say of them, on the fake host.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { applyCommand } from '../../src/cli/apply.js';
import { diffCommand } from '../../src/cli/diff.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { statusCommand } from '../../src/cli/status.js';
import { checkConfig } from '../../src/config/read.js';
import { parsePrefix } from '../../src/model/address.js';
import { applyRecordFile } from '../../src/ops/apply-record.js';
import type { Status } from '../../src/ops/status.js';
import { viewOf } from '../../src/ops/view.js';
import { plan } from '../../src/plan/plan.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

test('parsePrefix: canonical prefixes, single addresses as /32 and /128, host bits and bad lengths refused', (t) => {
  t.deepEqual(parsePrefix('198.51.100.0/24'), { prefix: { family: 4, text: '198.51.100.0/24' } });
  t.deepEqual(parsePrefix('203.0.113.7'), { prefix: { family: 4, text: '203.0.113.7/32' } });
  t.deepEqual(parsePrefix('2001:DB8:3:0::/48'), { prefix: { family: 6, text: '2001:db8:3::/48' } });
  t.deepEqual(parsePrefix('2001:db8::1'), { prefix: { family: 6, text: '2001:db8::1/128' } });
  t.deepEqual(parsePrefix('0.0.0.0/0'), { prefix: { family: 4, text: '0.0.0.0/0' } });
  t.deepEqual(parsePrefix('198.51.100.1/24'), {
    problem: '"198.51.100.1/24" has host bits set; the network is 198.51.100.0/24',
  });
  for (const bad of ['198.51.100.0/33', '198.51.100.0/024', '198.51.100.0/', 'x/8', '2001:db8::/129'])
    t.true('problem' in parsePrefix(bad), bad);
});

test('the model: policy accept is no filter; log new: false logs nothing; defaults 10/second at level info', (t) => {
  const model = (yaml: string) => checkConfig('c.yaml', yaml).model!;
  const svc = (log: string): string =>
    `services:\n  - { name: web, vip: 203.0.113.1, port: 80, ${log} backends: [{ address: 198.51.100.2 }] }\n`;
  t.is(model(`forward: { policy: accept }\n${svc('')}`).forward, undefined);
  t.deepEqual(model(`forward: { policy: drop }\n${svc('')}`).forward, { policy: 'drop', accept: [] });
  t.is(model(svc('log: { new: false, group: 3 },')).services[0]!.log, undefined);
  t.deepEqual(model(svc('log: {},')).services[0]!.log, {
    rate: 10,
    unit: 'second',
    to: { kind: 'kernel', level: 'info' },
  });
  t.deepEqual(model(svc('log: { rate: 3/hour, group: 0 },')).services[0]!.log, {
    rate: 3,
    unit: 'hour',
    to: { kind: 'nflog', group: 0 },
  });
  const checked = checkConfig('c.yaml', `forward: { policy: accept, accept: [198.51.100.0/24] }\n${svc('')}`);
  t.deepEqual(
    checked.diagnostics.map((d) => [d.code, d.severity, d.line]),
    [['forward.accept-unused', 'warning', 1]],
  );
  // A service that logs shows it in its view (status, diff); one that does not has no key.
  t.is(viewOf(plan(model(svc('log: { group: 5, rate: 100/minute },'))))[0]!.log, '100/minute, nflog group 5');
  t.false('log' in viewOf(plan(model(svc(''))))[0]!);
});

const DROPS = { rule: { chain: 'forward_filter', expr: [{ counter: { packets: 12, bytes: 720 } }, { drop: null }] } };

test('status shows the forward filter and its drops (table, JSON, Prometheus); a config without one shows nothing new', async (t) => {
  const s = scratch(`forward: { policy: drop, accept: ["2001:db8:3::/48"] }\n${CONFIG}`);
  const host = fakeSystem({ json: JSON.stringify({ nftables: [DROPS] }) });
  const env = { NFTLB_STATE_DIR: s.dir };
  t.is((await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock], host, env)).code, 0);
  const st = JSON.parse((await runCommand(statusCommand, ['-c', s.config, '--json'], host, env)).stdout) as Status;
  t.deepEqual(st.forward, { policy: 'drop', accept: ['2001:db8:3::/48'], dropped: { packets: 12, bytes: 720 } });
  t.regex(
    (await runCommand(statusCommand, ['-c', s.config], host, env)).stdout,
    /^forward filter: policy drop \(balanced connections and 2001:db8:3::\/48\); dropped 12 packets \(720 bytes\)$/m,
  );
  const prom = (await runCommand(statusCommand, ['-c', s.config, '--prometheus'], host, env)).stdout;
  t.regex(prom, /^nftlb_forward_dropped_packets_total\{table="nftlb"\} 12$/m);
  t.regex(prom, /^nftlb_forward_dropped_bytes_total\{table="nftlb"\} 720$/m);
  const plain = scratch(CONFIG);
  const h2 = fakeSystem({});
  t.is((await runCommand(applyCommand, ['-c', plain.config, '--lock-file', plain.lock], h2, env)).code, 0);
  const st2 = JSON.parse((await runCommand(statusCommand, ['-c', plain.config, '--json'], h2, env)).stdout) as Status;
  t.false('forward' in st2);
  t.notRegex((await runCommand(statusCommand, ['-c', plain.config, '--prometheus'], h2, env)).stdout, /nftlb_forward_/);
});

test('diff names a forward filter or log change in config terms', async (t) => {
  const s = scratch(
    `forward: { policy: drop, accept: [198.51.100.0/24] }\n${CONFIG.replace('    port: 53\n', '    port: 53\n    log: { group: 2 }\n')}`,
  );
  const was = viewOf(plan(checkConfig('c.yaml', CONFIG).model!));
  mkdirSync(join(s.dir, 'run'), { recursive: true });
  writeFileSync(
    applyRecordFile(join(s.dir, 'run'), 'nftlb'),
    JSON.stringify({ table: 'nftlb', fingerprint: 'aaaa', services: was }),
  );
  const r = await runCommand(
    diffCommand,
    ['-c', s.config, '--lock-file', s.lock],
    fakeSystem({ live: { fingerprint: 'aaaa' } }),
    { NFTLB_STATE_DIR: s.dir },
  );
  t.is(r.code, EXIT.differs);
  t.is(
    r.stdout,
    '~ service dns: log none -> 10/second, nflog group 2\n~ forward filter: none -> policy drop, accept 198.51.100.0/24\n',
  );
});
