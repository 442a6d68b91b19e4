import test from 'ava';
import { parseConntrack } from '../../src/system/conntrack.js';
import { statusCommand } from '../../src/cli/status.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';
import { applyCommand } from '../../src/cli/apply.js';
import type { Status } from '../../src/ops/status.js';

const CT = [
  'tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=4000 dport=80 packets=5 bytes=300 src=198.51.100.3 dst=198.51.100.1 sport=8080 dport=4000 packets=4 bytes=700 [ASSURED] mark=2 use=1',
  'tcp      6 100 TIME_WAIT src=203.0.113.11 dst=203.0.113.1 sport=4001 dport=80 packets=6 bytes=360 src=198.51.100.3 dst=198.51.100.1 sport=8080 dport=4001 packets=5 bytes=800 [ASSURED] mark=2 use=1',
  // A ct mark set by someone else on traffic that is not nftlb's: not counted.
  'tcp      6 100 ESTABLISHED src=203.0.113.12 dst=198.51.100.9 sport=4002 dport=22 packets=1 bytes=60 src=198.51.100.9 dst=203.0.113.12 sport=22 dport=4002 packets=1 bytes=60 mark=2 use=1',
  'udp      17 20 src=203.0.113.10 dst=203.0.113.1 sport=5353 dport=53 packets=1 bytes=60 src=198.51.100.2 dst=198.51.100.1 sport=53 dport=5353 packets=1 bytes=90 mark=4 use=1',
].join('\n');

test('parseConntrack reads protocol, state, original destination, mark and bytes of both directions', (t) => {
  const es = parseConntrack(CT);
  t.like(es[0], { proto: 'tcp', state: 'ESTABLISHED', dst: '203.0.113.1', dport: 80, mark: 2, bytes: 1000 });
  t.like(es[3], { proto: 'udp', state: '', dst: '203.0.113.1', dport: 53, mark: 4, bytes: 150 });
  t.is(
    parseConntrack(
      'tcp 6 10 ESTABLISHED src=1.2.3.4 dst=203.0.113.1 sport=1 dport=80 src=x dst=y sport=80 dport=1 mark=2 use=1',
    )[0]?.bytes,
    null,
  );
});

test('status joins config, rule counters and conntrack; --json and --prometheus are stable', async (t) => {
  const s = scratch(CONFIG);
  const json = JSON.stringify({
    nftables: [
      { rule: { chain: 'svc_web_v4', expr: [{ counter: { packets: 7, bytes: 420 } }] } },
      { rule: { chain: 'svc_web_v6', expr: [{ counter: { packets: 3, bytes: 240 } }] } },
      { rule: { chain: 'svc_dns_v4', expr: [{ counter: { packets: 2, bytes: 120 } }] } },
    ],
  });
  const e2 = fakeSystem({ conntrack: CT, json });
  t.is(
    (await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock], e2, { NFTLB_STATE_DIR: s.dir })).code,
    0,
  );
  const r = await runCommand(statusCommand, ['-c', s.config, '--json'], e2, { NFTLB_STATE_DIR: s.dir });
  t.is(r.code, 0, r.stderr);
  const st = JSON.parse(r.stdout) as Status;
  t.is(st.live, 'matches');
  t.deepEqual(st.conntrack, { available: true, reason: null, accounting: true, entries: 4 });
  const web = st.services[0]!;
  t.is(web.newConnections, 10);
  t.deepEqual(web.backends[1], {
    id: 2,
    endpoint: '198.51.100.3:8080',
    weight: 2,
    state: 'up',
    health: 'unchecked',
    active: true,
    connections: 2,
    established: 1,
    bytes: 2160,
  });
  t.is(web.backends[0]?.connections, 0);
  t.is(st.services[1]?.backends[0]?.connections, 1, 'dns: the UDP flow (mark 4 = its first backend)');
  const prom = await runCommand(statusCommand, ['-c', s.config, '--prometheus'], e2, { NFTLB_STATE_DIR: s.dir });
  t.true(
    prom.stdout.includes(
      '# TYPE nftlb_service_new_connections_total counter\nnftlb_service_new_connections_total{table="nftlb",service="web"} 10\n',
    ),
  );
  t.true(
    prom.stdout.includes('nftlb_backend_connections{table="nftlb",service="web",backend="198.51.100.3:8080"} 2\n'),
  );
  const text = await runCommand(statusCommand, ['-c', s.config], e2, { NFTLB_STATE_DIR: s.dir });
  t.regex(text.stdout, /^table inet nftlb: live table matches the config\nSERVICE +BACKEND/);
});

test('status without conntrack still reports, and says why figures are missing; a differing table hides counters', async (t) => {
  const s = scratch(CONFIG);
  const exec = fakeSystem({
    live: { fingerprint: '00' },
    missing: ['conntrack'],
  });
  const r = await runCommand(statusCommand, ['-c', s.config, '--json'], exec, { NFTLB_STATE_DIR: s.dir });
  t.is(r.code, 0);
  const st = JSON.parse(r.stdout) as Status;
  t.is(st.live, 'differs');
  t.is(st.conntrack.available, false);
  t.regex(st.conntrack.reason ?? '', /conntrack is not installed/);
  t.is(st.services[0]?.newConnections, null);
  t.is(st.services[0]?.backends[0]?.connections, null);
  const n = await runCommand(statusCommand, ['-c', s.config], fakeSystem({ missing: ['nft'] }), {
    NFTLB_STATE_DIR: s.dir,
  });
  t.is(n.code, 7);
});
