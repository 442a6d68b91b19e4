// apply, diff, status and remove over both of nftlb's tables (inet and the DSR netdev one), against the fake host:
// one transaction for both, the same no-op, a netdev table left by an older config deleted with the next load, a
// foreign table of either name refused, status counting what the balancer forwarded.
import test from 'ava';
import { join } from 'node:path';
import { applyCommand } from '../../src/cli/apply.js';
import { diffCommand } from '../../src/cli/diff.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { removeCommand } from '../../src/cli/remove.js';
import { statusCommand } from '../../src/cli/status.js';
import { loadModel } from '../../src/system/config-file.js';
import { renderNftScript } from '../../src/nft/script.js';
import type { Status } from '../../src/ops/status.js';
import { plan } from '../../src/plan/plan.js';
import { cli } from '../support/cli.js';
import { FakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

const DSR = `${CONFIG}  - name: dnsdsr
    vip: 203.0.113.53
    port: 53
    protocol: [udp, tcp]
    forwarding: dsr
    interface: eth1
    scheduler: maglev
    hash: { table-size: 251 }
    backends:
      - { address: 198.51.100.53 }
      - { address: 198.51.100.54 }
`;

const nftCalls = (exec: FakeSystem): string[] => exec.calls.filter((c) => c.cmd === 'nft').map((c) => c.args.join(' '));

async function setup(config: string) {
  const s = scratch(config);
  const exec = new FakeSystem();
  const env = { NFTLB_STATE_DIR: s.dir, NFTLB_LOCK: s.lock };
  const run = (make: Parameters<typeof runCommand>[0], ...args: string[]) =>
    runCommand(make, ['-c', s.config, ...args], exec, env);
  const script = renderNftScript(plan((await loadModel(s.config)).model));
  return { s, exec, run, script };
}

test('apply loads both tables in one transaction, then is a no-op; a missing netdev table is a change', async (t) => {
  const { exec, run, script } = await setup(DSR);
  const r = await run(applyCommand);
  t.is(r.code, EXIT.ok, r.stderr);
  t.regex(
    r.stderr,
    /^nftlb: applied table inet nftlb and table netdev nftlb_dsr: 3 services, fingerprint [0-9a-f]+\n$/,
  );
  t.deepEqual(exec.loads(), [script.text]);
  t.regex(
    script.text,
    /table inet nftlb \{\}\ndelete table inet nftlb\n[\s\S]*table netdev nftlb_dsr \{\}\ndelete table netdev nftlb_dsr\n/,
  );
  for (const k of ['inet nftlb', 'netdev nftlb_dsr'])
    t.is(exec.tables.get(k)?.comment, `nftlb fingerprint ${script.fingerprint}`, k);
  t.is((await run(applyCommand)).code, EXIT.unchanged);
  // Someone deleted the netdev table: the inet table alone does not make the config live.
  exec.dropTable('netdev', 'nftlb_dsr');
  t.is((await run(applyCommand)).code, EXIT.ok);
  t.true(exec.tables.has('netdev nftlb_dsr'));
  const d = await run(diffCommand, '--json');
  t.is(d.code, EXIT.ok, d.stdout);
});

for (const image of [true, false])
  test(`a config without DSR deletes the netdev table of the last one in the same transaction (${image ? 'by a delta' : 'in full: no image of the last load'})`, async (t) => {
    const { s, exec, run } = await setup(DSR);
    t.is((await run(applyCommand)).code, EXIT.ok);
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(s.config, CONFIG);
    if (!image) rmSync(join(s.dir, 'run', 'nftlb.image.json'));
    const natOnly = renderNftScript(plan((await loadModel(s.config)).model));
    const st = JSON.parse((await run(statusCommand, '--json')).stdout) as Status;
    t.is(st.live, 'differs', 'a netdev table left over is a difference');
    const r = await run(applyCommand, '--json');
    t.is(r.code, EXIT.ok, r.stderr);
    const out = JSON.parse(r.stdout) as { tables: string[]; deleted: string[]; load: { form: string } };
    t.deepEqual(out.tables, ['inet nftlb']);
    t.deepEqual(out.deleted, ['netdev nftlb_dsr']);
    t.is(out.load.form, image ? 'delta' : 'full');
    // The inet table is changed by a delta or reloaded in place (its fingerprint chain says what is loaded), the netdev
    // table deleted with it.
    const last = exec.loads().at(-1)!;
    if (image) t.notRegex(last, /^flush table inet nftlb$/m);
    else t.regex(last, /^flush table inet nftlb$/m);
    t.true(last.includes(`comment "nftlb fingerprint ${natOnly.fingerprint}"`));
    t.true(last.endsWith('table netdev nftlb_dsr {}\ndelete table netdev nftlb_dsr\n'), last.slice(-200));
    t.false(exec.tables.has('netdev nftlb_dsr'));
    t.is((await run(applyCommand)).code, EXIT.unchanged);
  });

test('a foreign table of either name is refused (exit 14) and --force replaces it; remove deletes both', async (t) => {
  const { exec, run } = await setup(DSR);
  exec.setTable('netdev', 'nftlb_dsr', { comment: 'made by hand' });
  const r = await run(applyCommand);
  t.is(r.code, EXIT.foreignTable);
  t.regex(r.stderr, /table netdev nftlb_dsr exists but was not made by nftlb/);
  t.deepEqual(exec.loads(), []);
  const st = JSON.parse((await run(statusCommand, '--json')).stdout) as Status;
  t.is(st.live, 'foreign');
  const rm = await run(removeCommand);
  t.is(rm.code, EXIT.foreignTable, 'remove leaves a foreign table alone');
  t.is((await run(applyCommand, '--force')).code, EXIT.ok);
  const calls = nftCalls(exec).length;
  const gone = await run(removeCommand, '--json');
  t.is(gone.code, EXIT.ok);
  t.deepEqual(JSON.parse(gone.stdout), {
    command: 'remove',
    result: 'removed',
    exitCode: 0,
    error: null,
    table: 'nftlb',
    tables: ['inet nftlb', 'netdev nftlb_dsr'],
  });
  t.deepEqual(nftCalls(exec).slice(calls), ['-t -f -', '-f -']);
  t.is(
    exec.loads().at(-1),
    'table inet nftlb {}\ndelete table inet nftlb\ntable netdev nftlb_dsr {}\ndelete table netdev nftlb_dsr\n',
  );
  t.is(exec.tables.size, 0);
  // A NAT config does not care about a foreign netdev table of the DSR name: it neither replaces nor deletes it.
  const nat = await setup(CONFIG);
  nat.exec.setTable('netdev', 'nftlb_dsr', { comment: 'made by hand' });
  t.is((await nat.run(applyCommand)).code, EXIT.ok);
  t.is(nat.exec.tables.get('netdev nftlb_dsr')?.comment, 'made by hand');
});

test('status reports what the balancer forwarded for a DSR service, and no connections for its backends', async (t) => {
  const { exec, run } = await setup(DSR);
  t.is((await run(applyCommand)).code, EXIT.ok);
  exec.json.set(
    'netdev nftlb_dsr',
    JSON.stringify({
      nftables: [{ rule: { chain: 'svc_dnsdsr_v4', expr: [{ counter: { packets: 12, bytes: 900 } }] } }],
    }),
  );
  exec.conntrack.ipv4 = [
    'udp      17 20 src=203.0.113.10 dst=203.0.113.53 sport=5353 dport=53 packets=1 bytes=60 src=198.51.100.53 dst=203.0.113.10 sport=53 dport=5353 packets=1 bytes=90 mark=4 use=1',
  ];
  const st = JSON.parse((await run(statusCommand, '--json')).stdout) as Status;
  t.is(st.live, 'matches');
  t.deepEqual(st.tables, ['inet nftlb', 'netdev nftlb_dsr']);
  const dsr = st.services[2]!;
  t.like(dsr, { name: 'dnsdsr', forwarding: 'dsr eth1', newConnections: null, packets: 12, bytes: 900 });
  t.deepEqual(
    dsr.backends.map((b) => [b.endpoint, b.connections]),
    [
      ['198.51.100.53:53', null],
      ['198.51.100.54:53', null],
    ],
  );
  t.like(st.services[0], { forwarding: 'nat', packets: null, bytes: null });
  const text = (await run(statusCommand)).stdout;
  t.regex(text, /^table inet nftlb and table netdev nftlb_dsr: live tables match the config\n/);
  t.regex(text, /dnsdsr +203\.0\.113\.53 tcp,udp\/53 dsr eth1 +up +- +12 +900/);
  const prom = (await run(statusCommand, '--prometheus')).stdout;
  t.true(prom.includes('nftlb_service_forwarded_packets_total{table="nftlb",service="dnsdsr"} 12\n'));
});

test('diff names a change of forwarding in config terms', async (t) => {
  const { s, run } = await setup(CONFIG);
  t.is((await run(applyCommand)).code, EXIT.ok);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    s.config,
    CONFIG.replace(
      '  - name: dns\n    vip: 203.0.113.1\n    protocol: udp\n    port: 53\n',
      '  - name: dns\n    vip: 203.0.113.1\n    protocol: udp\n    port: 53\n    forwarding: dsr\n    interface: eth1\n    scheduler: source-hash\n',
    ),
  );
  const d = await run(diffCommand, '--json');
  t.is(d.code, EXIT.differs);
  const changes = (JSON.parse(d.stdout) as { changes: unknown[] }).changes;
  t.deepEqual(changes, [
    { kind: 'service-changed', service: 'dns', field: 'scheduler', from: 'round-robin', to: 'source-hash' },
    { kind: 'service-changed', service: 'dns', field: 'nat', from: 'masquerade', to: 'none' },
    { kind: 'service-changed', service: 'dns', field: 'forwarding', from: 'nat', to: 'dsr eth1' },
  ]);
});

test('render --format iptables refuses a DSR service with exit 5 and says why', async (t) => {
  const s = scratch(DSR);
  const r = await cli(['render', '-c', s.config, '--format', 'iptables']);
  t.is(r.code, EXIT.unsupported);
  t.is(r.stdout, '');
  t.regex(r.stderr, /service dnsdsr: forwarding: dsr needs nft's netdev table .*use --format nft/);
});
