import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { parseConntrack } from '../../src/system/conntrack.js';
import { prometheus, statusCommand, table } from '../../src/cli/status.js';
import { FORWARD_NAMES } from '../../src/nft/forward.js';
import { serviceChain } from '../../src/nft/names.js';
import { PERSIST_NAMES } from '../../src/nft/persistence.js';
import { buildStatus, ConntrackFigures, liveFiguresOfJson } from '../../src/ops/status.js';
import { noopRecordFile } from '../../src/ops/noop.js';
import { plan } from '../../src/plan/plan.js';
import { renderNftScript } from '../../src/nft/script.js';
import { scriptTableRefs } from '../../src/nft/tables.js';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelOf } from '../support/model.js';
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

test('conntrack entries count for the backend their reply comes from, not the backend their ct mark names now', (t) => {
  // The config after a reload that removed 198.51.100.2 from web's head: 198.51.100.3 is id 1 now, 198.51.100.4 id 2,
  // and the connections opened before carry their old ids (2 and 3) as their marks; id 3 is dns's backend now.
  const p = plan(
    modelOf(`services:
  - name: web
    vip: 203.0.113.1
    port: 80
    backends:
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: dns
    vip: 203.0.113.1
    protocol: udp
    port: 53
    backends:
      - { address: 198.51.100.3 }
`),
  );
  const entry = (state: string, dst: string, dport: number, reply: string, sport: number, mark: number): string =>
    `tcp      6 100 ${state} src=203.0.113.10 dst=${dst} sport=4000 dport=${dport} packets=5 bytes=300 src=${reply} dst=203.0.113.10 sport=${sport} dport=4000 packets=4 bytes=700 [ASSURED] mark=${mark} use=1`;
  const figures = new ConntrackFigures(p);
  for (const e of parseConntrack(
    [
      entry('ESTABLISHED', '203.0.113.1', 80, '198.51.100.3', 8080, 2),
      entry('TIME_WAIT', '203.0.113.1', 80, '198.51.100.3', 8080, 2),
      entry('ESTABLISHED', '203.0.113.1', 80, '198.51.100.4', 8080, 3),
      // Marks that name web's backends now, on connections that are no web backend's: another port of the backend,
      // another VIP, the balancer's own connection to the backend (a health check).
      entry('ESTABLISHED', '203.0.113.1', 80, '198.51.100.3', 9000, 1),
      entry('ESTABLISHED', '203.0.113.9', 80, '198.51.100.4', 8080, 2),
      entry('ESTABLISHED', '198.51.100.4', 8080, '198.51.100.4', 8080, 2),
      // dns's backend keeps the client's port: its reply comes from port 53.
      'udp      17 20 src=203.0.113.10 dst=203.0.113.1 sport=5353 dport=53 packets=1 bytes=60 src=198.51.100.3 dst=203.0.113.10 sport=53 dport=5353 packets=1 bytes=90 mark=1 use=1',
    ].join('\n'),
  ))
    figures.add(e);
  const [web, dns] = [p.services[0]!, p.services[1]!];
  const of = (id: number): number[] => [figures.connections[id]!, figures.established[id]!, figures.bytes[id]!];
  t.deepEqual(of(web.backends[0]!.id), [2, 1, 2000], '198.51.100.3: both of its connections, marked 2');
  t.deepEqual(of(web.backends[1]!.id), [1, 1, 1000], '198.51.100.4: its connection marked 3');
  t.deepEqual(of(dns.backends[0]!.id), [1, 1, 150]);
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
    override: null,
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

// CONFIG applied on a fake system whose nft -j listing is `rules`; `status()` runs `status --json` with the calls
// before it forgotten.
async function appliedConfig(t: ExecutionContext, rules: unknown[]) {
  const s = scratch(CONFIG);
  const exec = fakeSystem({ conntrack: CT, json: JSON.stringify({ nftables: rules }) });
  const env = { NFTLB_STATE_DIR: s.dir, NFTLB_LOCK: s.lock };
  t.is((await runCommand(applyCommand, ['-c', s.config], exec, env)).code, 0);
  const status = async (): Promise<Status> => {
    exec.calls.length = 0;
    const r = await runCommand(statusCommand, ['-c', s.config, '--json'], exec, env);
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Status;
  };
  return { s, exec, status };
}

test('status reads the counters from the kernel rule dump, and from nft -j list when that dump fails', async (t) => {
  const { exec, status } = await appliedConfig(t, [
    { rule: { chain: 'svc_web_v4', expr: [{ counter: { packets: 7, bytes: 420 } }] } },
    { rule: { chain: 'svc_web_v6', expr: [{ counter: { packets: 3, bytes: 240 } }] } },
  ]);
  const listedJson = (): boolean => exec.calls.some((c) => c.cmd.endsWith('nft') && c.args.includes('-j'));
  const dumped = await status();
  t.is(dumped.services[0]!.newConnections, 10);
  t.false(listedJson(), 'no nft listing');
  exec.countersDown = true;
  const listed = await status();
  t.true(listedJson(), 'the dump failed: nft -j list');
  t.deepEqual(listed, dumped);
});

test('status after apply: the record of that load stands for the render and the listing until a transaction since', async (t) => {
  const { s, exec, status } = await appliedConfig(t, [
    { rule: { chain: 'svc_web_v4', expr: [{ counter: { packets: 7, bytes: 420 } }] } },
  ]);
  const rendered = renderNftScript(plan(modelOf(CONFIG))).fingerprint;
  // The cheap listing of nftlb's tables is `nft -t -f -` with list commands on stdin.
  const listed = (): boolean => exec.calls.some((c) => c.cmd.endsWith('nft') && c.args.includes('-f'));
  const proven = await status();
  t.false(listed(), 'no listing while the record proves the table is the one loaded');
  t.is(proven.live, 'matches');
  t.deepEqual(proven.fingerprint, { config: rendered, live: rendered });
  t.is(proven.services[0]!.newConnections, 7, 'the counters are still read');
  // Another program's transaction (here a table of its own): the proof is gone, status lists and compares.
  exec.setTable('inet', 'other');
  const listedAgain = await status();
  t.true(listed());
  t.is(listedAgain.live, 'matches');
  t.deepEqual(listedAgain.fingerprint, proven.fingerprint);
  // The record still describes a load of the config (only the ruleset moved): the config's fingerprint is the
  // record's, not rendered again. Shown by a record whose fingerprint is not the render's: the config side follows
  // it, and the live table, listed, no longer matches.
  const file = noopRecordFile(join(s.dir, 'run'), s.config);
  const record = JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: string };
  writeFileSync(file, JSON.stringify({ ...record, fingerprint: 'f'.repeat(32) }));
  const fromRecord = await status();
  t.deepEqual(fromRecord.fingerprint, { config: 'f'.repeat(32), live: rendered });
  t.is(fromRecord.live, 'differs');
  // Once the config text changes, the record describes nothing: the fingerprint is rendered.
  writeFileSync(s.config, `${readFileSync(s.config, 'utf8')}\n# edited\n`);
  t.is((await status()).fingerprint.config, rendered);
  exec.dropTable('inet', 'nftlb');
  const gone = await status();
  t.is(gone.live, 'absent');
  t.is(gone.fingerprint.live, null);
});

test('scriptTableRefs names the tables the script replaces, in its order, without rendering', (t) => {
  const counts = [0, 0];
  for (const dir of readdirSync('fixtures', { recursive: true, withFileTypes: true }))
    if (dir.isFile() && dir.name === 'config.yaml') {
      const file = join(dir.parentPath ?? dir.path, dir.name);
      let p;
      try {
        p = plan(modelOf(readFileSync(file, 'utf8')));
      } catch {
        continue; // the error fixtures
      }
      t.deepEqual(scriptTableRefs(p), renderNftScript(p).tables, file);
      counts[scriptTableRefs(p).length - 1]!++;
    }
  t.true(counts[0]! > 10 && counts[1]! > 3, `configs with one table and with two: ${counts.join(', ')}`);
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

// Every field the merged features add, together: DSR (forwarded counters, no connections), persistence entries per
// backend (by service mark and backend tag, from the live maps), an operator's override, the forward filter's drops.
const MIXED = `forward:
  policy: drop
  accept: [198.51.100.0/24]
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    persistence: {}
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
  - name: dns
    vip: 203.0.113.53
    port: 53
    protocol: udp
    forwarding: dsr
    interface: eth1
    scheduler: maglev
    backends:
      - { address: 198.51.100.53 }
      - { address: 198.51.100.54 }
  - name: plain
    vip: 203.0.113.2
    port: 80
    backends:
      - { address: 198.51.100.4 }
`;

test('buildStatus: DSR counters, persistence entries by tag, overrides and forward drops in --json and --prometheus', async (t) => {
  const model = modelOf(MIXED);
  const override = new Map([['web/198.51.100.3:8080', 'drain' as const]]);
  const p = plan(model, { health: new Map(), override });
  const [web, dns] = [p.services[0]!, p.services[1]!];
  const mark = web.persistence!.mark;
  const tags = web.backends.map((b) => b.tag!);
  const entry = (tag: number, client: string): unknown => [
    { elem: { val: { concat: [mark, client] }, expires: 100 } },
    tag,
  ];
  const json = [
    { rule: { chain: serviceChain('web', 4), expr: [{ counter: { packets: 9, bytes: 540 } }] } },
    { rule: { chain: serviceChain('dns', 4), expr: [{ counter: { packets: 12, bytes: 960 } }] } },
    { rule: { chain: FORWARD_NAMES.chain, expr: [{ counter: { packets: 3, bytes: 180 } }] } },
    {
      map: {
        name: PERSIST_NAMES.v4,
        elem: [entry(tags[0]!, '203.0.113.10'), entry(tags[0]!, '203.0.113.11'), entry(tags[1]!, '203.0.113.12')],
      },
    },
    // An entry of a service mark nftlb does not plan (another table's, or gone): counted nowhere.
    { map: { name: PERSIST_NAMES.v4, elem: [[{ elem: { val: { concat: [mark + 1, '203.0.113.13'] } } }, tags[0]]] } },
  ];
  const figures = new ConntrackFigures(p);
  for (const e of parseConntrack(
    `tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=4000 dport=80 packets=5 bytes=300 src=198.51.100.2 dst=198.51.100.1 sport=8080 dport=4000 packets=4 bytes=700 [ASSURED] mark=${web.backends[0]!.id} use=1\n` +
      // A DSR backend's id as a mark: DSR keeps no entries, so none is counted for it.
      `udp      17 20 src=203.0.113.10 dst=203.0.113.53 sport=5353 dport=53 packets=1 bytes=60 src=198.51.100.53 dst=203.0.113.10 sport=53 dport=5353 packets=1 bytes=90 mark=${dns.backends[0]!.id} use=1\n`,
  ))
    figures.add(e);
  const at = (json: unknown[] | null, conntrack: ConntrackFigures | null): Status =>
    buildStatus(p, {
      checks: new Map(),
      live: json === null ? 'differs' : 'matches',
      configFingerprint: 'f',
      liveFingerprint: 'f',
      counted: json === null ? null : liveFiguresOfJson(json),
      conntrack,
      ctReason: null,
    });
  const s = at(json, figures);
  t.deepEqual(s.tables, ['inet nftlb', 'netdev nftlb_dsr']);
  t.like(s.services[0], { forwarding: 'nat', newConnections: 9, packets: null, bytes: null });
  t.like(s.services[0]!.backends[0], {
    state: 'up',
    override: null,
    connections: 1,
    bytes: 1000,
    persistenceEntries: 2,
  });
  t.like(s.services[0]!.backends[1], { state: 'drain', override: 'drain', connections: 0, persistenceEntries: 1 });
  t.like(s.services[1], { forwarding: 'dsr eth1', newConnections: null, packets: 12, bytes: 960 });
  t.like(s.services[1]!.backends[0], { connections: null, established: null, bytes: null });
  t.false('persistenceEntries' in s.services[1]!.backends[0]!, 'no persistence: no field');
  t.false('persistenceEntries' in s.services[2]!.backends[0]!);
  t.deepEqual(s.forward, { policy: 'drop', accept: ['198.51.100.0/24'], dropped: { packets: 3, bytes: 180 } });
  // Without the live table (it differs): the fields are there, their values unknown.
  const blind = at(null, null);
  t.is(blind.services[0]!.backends[0]!.persistenceEntries, null);
  t.is(blind.services[1]!.packets, null);
  t.is(blind.forward?.dropped, null);

  const prom = prometheus(s).join('');
  const lb = 'table="nftlb",service="web",backend="198.51.100.3:8080"';
  t.true(prom.includes(`\nnftlb_backend_override{${lb},state="drain"} 1\n`), prom);
  t.is((prom.match(/^nftlb_backend_override\{/gm) ?? []).length, 1);
  t.true(prom.includes(`\nnftlb_backend_up{${lb}} 0\n`));
  t.true(prom.includes(`\nnftlb_backend_persistence_entries{${lb}} 1\n`));
  t.false(/^nftlb_backend_persistence_entries\{[^}]*service="(dns|plain)"/m.test(prom));
  t.true(prom.includes('\nnftlb_service_forwarded_packets_total{table="nftlb",service="dns"} 12\n'));
  t.true(prom.includes('\nnftlb_forward_dropped_packets_total{table="nftlb"} 3\n'));
  t.false(/^nftlb_backend_connections\{[^}]*service="dns"/m.test(prom), 'no connections for DSR backends');
  const r = await execa('promtool', ['check', 'metrics'], { input: prom, reject: false });
  if (r.exitCode === 127 || r.code === 'ENOENT') t.log('promtool is not installed: the exposition was not checked');
  else t.is(r.exitCode, 0, `${r.stdout}${r.stderr}`);
  // The table shows the same: PACKETS and PERSIST columns, the override.
  const text = table(s);
  t.regex(text, /^SERVICE +BACKEND +STATE +HEALTH +WEIGHT +NEW +PACKETS +CONNS +ESTAB +BYTES +PERSIST$/m);
  t.regex(text, /198\.51\.100\.3:8080 +drain \(override\)/);
});
