import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Announcer, servedVips } from '../../src/cluster/announce.js';
import { renderBird } from '../../src/cluster/bird.js';
import { renderConntrackd } from '../../src/cluster/conntrackd.js';
import { renderKeepalived } from '../../src/cluster/keepalived.js';
import { findNode, thisNode } from '../../src/cluster/node.js';
import { vrrpTransition } from '../../src/cluster/notify.js';
import { clusterStatus } from '../../src/cluster/status.js';
import { parseProtocols } from '../../src/system/birdc.js';
import { readRole } from '../../src/system/cluster-role.js';
import { plan } from '../../src/plan/plan.js';
import type { Model } from '../../src/model/types.js';
import { modelOf } from '../support/model.js';
import { FakeEngines } from './fake-engines.js';

const ECMP = readFileSync('fixtures/cluster/ecmp-dsr/config.yaml', 'utf8');
const VRRP = readFileSync('fixtures/cluster/vrrp-nat/config.yaml', 'utf8');
const update = process.env.UPDATE_GOLDEN === '1';
const dir = (): string => mkdtempSync(join(tmpdir(), 'nftlb-cluster-'));

const ecmp = (m: Model) => {
  if (m.cluster?.mode !== 'ecmp') throw new Error('not ecmp');
  return m.cluster;
};
const vrrp = (m: Model) => {
  if (m.cluster?.mode !== 'vrrp') throw new Error('not vrrp');
  return m.cluster;
};

// The rendered configurations of every node, compared with fixtures/cluster/<case>/expected/ (make golden rewrites).
function golden(t: import('ava').ExecutionContext, path: string, text: string): void {
  if (update) writeFileSync(path, text);
  t.is(text, readFileSync(path, 'utf8'), `${path} differs (UPDATE_GOLDEN=1 rewrites it; review the diff)`);
}

// A program the tests need: in CI its absence fails the test, elsewhere it is skipped loudly.
async function have(t: import('ava').ExecutionContext, tool: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
  if (r.exitCode === 0) return true;
  if (process.env.CI === 'true') t.fail(`${tool} is not installed (scripts/setup.sh test installs it)`);
  else {
    t.log(`SKIPPED: ${tool} is not installed`);
    t.pass();
  }
  return false;
}

test("the engines' configurations of every node are the goldens, and BIRD and conntrackd parse them", async (t) => {
  const e = modelOf(ECMP);
  const v = modelOf(VRRP);
  const d = dir();
  for (const n of ecmp(e).nodes) {
    const text = renderBird(e, ecmp(e), n, { config: 'config.yaml', fingerprint: 'f'.repeat(16) });
    golden(t, `fixtures/cluster/ecmp-dsr/expected/bird-${n.name}.conf`, text);
    if (await have(t, 'bird')) {
      writeFileSync(join(d, 'bird.conf'), text);
      const r = await execa('bird', ['-p', '-c', join(d, 'bird.conf')], { reject: false });
      t.is(r.exitCode, 0, `bird -p: ${r.stderr}`);
    }
  }
  for (const n of vrrp(v).nodes) {
    const notify = { program: '/usr/bin/nftlb', config: '/etc/nftlb/nftlb.yaml', clusterDir: undefined };
    golden(
      t,
      `fixtures/cluster/vrrp-nat/expected/keepalived-${n.name}.conf`,
      renderKeepalived(v, vrrp(v), n, { notify, fingerprint: 'f'.repeat(16) }),
    );
    const files = { socket: join(d, 'conntrackd.ctl'), lock: join(d, 'conntrackd.lock') };
    const ct = renderConntrackd(vrrp(v), n, { files, fingerprint: 'f'.repeat(16) });
    golden(t, `fixtures/cluster/vrrp-nat/expected/conntrackd-${n.name}.conf`, ct.replaceAll(d, '/run/conntrackd'));
    // conntrackd has no check mode; its client parses the whole file before it looks for the daemon's socket.
    if (await have(t, 'conntrackd')) {
      writeFileSync(join(d, 'conntrackd.conf'), ct);
      const r = await execa('conntrackd', ['-C', join(d, 'conntrackd.conf'), '-s'], { reject: false, all: true });
      t.notRegex(r.all ?? '', /parsing config file|syntax error/i);
      t.regex(r.all ?? '', /can't connect/);
    }
  }
  // Dual stack: an IPv6 VIP goes over a session with an IPv6 peer, from the node's IPv6 address.
  const dual = modelOf(
    ECMP.replace(
      'peers: [{ address: 198.51.100.1, asn: 64513 }]',
      'peers: [{ address: 198.51.100.1, asn: 64513 }, { address: "2001:db8:2::1", asn: 64513 }]',
    )
      .replace('address: 198.51.100.11 }', 'address: [198.51.100.11, "2001:db8:2::11"] }')
      .replace('address: 198.51.100.12 }', 'address: [198.51.100.12, "2001:db8:2::12"] }')
      .replace('vip: 203.0.113.1', 'vip: [203.0.113.1, "2001:db8:1::1"]')
      .replace(
        '      - { address: 198.51.100.23 }',
        '      - { address: 198.51.100.23 }\n      - { address: "2001:db8:2::23" }',
      ),
  );
  const dualText = renderBird(dual, ecmp(dual), ecmp(dual).nodes[1]!, { config: 'c.yaml', fingerprint: '0' });
  t.regex(
    dualText,
    /protocol static nftlb_vip6_2001_db8_1__1 \{\n\tdisabled;\n\tipv6;\n\troute 2001:db8:1::1\/128 blackhole;/,
  );
  t.regex(dualText, /\tlocal 2001:db8:2::12 as 64512;\n\tneighbor 2001:db8:2::1 as 64513;/);
  t.regex(dualText, /export where proto ~ "nftlb_vip6_\*";/);
  if (await have(t, 'bird')) {
    writeFileSync(join(d, 'dual.conf'), dualText);
    const r = await execa('bird', ['-p', '-c', join(d, 'dual.conf')], { reject: false });
    t.is(r.exitCode, 0, `bird -p: ${r.stderr}`);
  }
  // The keepalived configuration with one interface for both sides is one instance with the notify scripts.
  const one = modelOf(VRRP.replace('backend-interface: eth1', 'backend-interface: eth0'));
  const text = renderKeepalived(one, vrrp(one), vrrp(one).nodes[0]!, {
    notify: { program: '/usr/bin/nftlb', config: '/c.yaml', clusterDir: '/run/x' },
    fingerprint: '0',
  });
  t.notRegex(text, /vrrp_sync_group/);
  t.regex(text, /198\.51\.100\.254\/32 dev eth0/);
  t.regex(
    text,
    /notify_master "\/usr\/bin\/nftlb cluster notify master -c \/c\.yaml --node lb1 --cluster-dir \/run\/x"/,
  );
});

test('the node: --node or NFTLB_NODE, else the hostname; none is a usage error naming the nodes', (t) => {
  const c = vrrp(modelOf(VRRP));
  const host = (node: string | undefined, hostname: string) => ({
    ...new FakeEngines().host('/tmp').cluster,
    node,
    hostname,
  });
  t.is(thisNode(c, host('lb2', 'lb1')).name, 'lb2');
  t.is(thisNode(c, host(undefined, 'lb1')).name, 'lb1');
  t.is(findNode(c, host(undefined, 'web3')), undefined);
  const e = t.throws(() => thisNode(c, host(undefined, 'web3')));
  t.regex(e.message, /hostname web3.*nodes: lb1, lb2.*--node/);
  t.throws(() => thisNode(c, host('lb9', 'lb1')), { message: /lb9 is no node of the cluster/ });
});

test('birdc show protocols is parsed (static protocols and BGP sessions with their state)', (t) => {
  const out = [
    'BIRD 2.0.12 ready.',
    'Name       Proto      Table      State  Since         Info',
    'device1    Device     ---        up     05:49:27.810  ',
    'nftlb_vip4_203_0_113_1 Static     master4    down   05:49:27.830  ',
    'nftlb_peer4_198_51_100_1 BGP        ---        start  05:49:27.830  Active        Socket: Connection refused',
    'lb1        BGP        ---        up     2026-11-29 05:49:32  Established   ',
  ].join('\n');
  t.deepEqual(
    parseProtocols(out).map((p) => [p.name, p.state, p.info]),
    [
      ['device1', 'up', ''],
      ['nftlb_vip4_203_0_113_1', 'down', ''],
      ['nftlb_peer4_198_51_100_1', 'start', 'Active        Socket: Connection refused'],
      ['lb1', 'up', 'Established'],
    ],
  );
});

const VIP = 'nftlb_vip4_203_0_113_1';

test('the announcer: nothing before a sync, the VIPs with a backend up after one, withdrawn when empty or stopped', async (t) => {
  const m = modelOf(ECMP);
  const f = new FakeEngines();
  f.protocols.set(VIP, { proto: 'Static', state: 'down', info: '' });
  f.protocols.set('nftlb_peer4_198_51_100_1', { proto: 'BGP', state: 'up', info: 'Established' });
  const events: string[] = [];
  const errors: string[] = [];
  const a = new Announcer(
    f.host(dir()),
    m,
    (e) => events.push(`${e.announced ? '+' : '-'}${e.vip}`),
    (e) => errors.push((e as Error).message),
  );
  await a.reconcile();
  t.is(f.protocols.get(VIP)!.state, 'down', 'nothing announced before the table is known to be loaded');
  await a.served(plan(m));
  t.is(f.protocols.get(VIP)!.state, 'up');
  // A BIRD started anew has every VIP disabled again: the next reconcile announces it again.
  f.protocols.get(VIP)!.state = 'down';
  await a.reconcile();
  t.is(f.protocols.get(VIP)!.state, 'up');
  // Every backend down: withdrawn.
  const down = modelOf(ECMP.replace(/address: (198\.51\.100\.2\d) \}/g, 'address: $1, state: down }'));
  t.deepEqual([...servedVips(down, plan(down))], [[VIP, false]]);
  await a.served(plan(down), down);
  t.is(f.protocols.get(VIP)!.state, 'down');
  await a.served(plan(m), m);
  await a.withdrawAll();
  t.is(f.protocols.get(VIP)!.state, 'down');
  t.deepEqual(events, ['+203.0.113.1', '+203.0.113.1', '-203.0.113.1', '+203.0.113.1', '-203.0.113.1']);
  // BIRD gone, or without nftlb's protocols: one report per distinct failure, nothing thrown.
  f.birdDown = true;
  await a.served(plan(m));
  await a.reconcile();
  f.birdDown = false;
  f.protocols.delete(VIP);
  await a.reconcile();
  t.is(errors.length, 2, errors.join('\n'));
  t.regex(errors[0]!, /Unable to connect/);
  t.regex(
    errors[1]!,
    /BIRD has no protocol nftlb_vip4_203_0_113_1: load the configuration of nftlb render --format bird/,
  );
});

test('the announcer: a VIP BIRD lacks is reported and the others still set; a VIP a reload took out is withdrawn', async (t) => {
  // A second service on another VIP, which the BIRD below was not configured with (nftlb health got SIGHUP first).
  const twoText = `${ECMP}  - name: mail\n    vip: 203.0.113.2\n    port: 25\n    forwarding: dsr\n    interface: eth0\n    scheduler: maglev\n    hash: { fields: [saddr, sport], table-size: 1009 }\n    backends:\n      - { address: 198.51.100.24 }\n`;
  const two = modelOf(twoText);
  const one = modelOf(ECMP);
  const f = new FakeEngines();
  f.protocols.set(VIP, { proto: 'Static', state: 'down', info: '' });
  const events: string[] = [];
  const errors: string[] = [];
  const a = new Announcer(
    f.host(dir()),
    one,
    (e) => events.push(`${e.announced ? '+' : '-'}${e.vip}`),
    (e) => errors.push((e as Error).message),
  );
  await a.served(plan(one));
  t.is(f.protocols.get(VIP)!.state, 'up');
  await a.served(plan(two), two);
  t.deepEqual(errors, [
    'BIRD has no protocol nftlb_vip4_203_0_113_2: load the configuration of nftlb render --format bird (birdc configure)',
  ]);
  // Every backend of web down: web's VIP leaves the ECMP group although BIRD lacks mail's.
  const down = modelOf(twoText.replace(/address: (198\.51\.100\.2\d) \}/g, 'address: $1, state: down }'));
  await a.served(plan(down), down);
  t.is(f.protocols.get(VIP)!.state, 'down', 'withdrawn in spite of the missing protocol');
  await a.served(plan(one), one);
  t.is(f.protocols.get(VIP)!.state, 'up');
  // A reload whose config no longer has the VIP (BIRD still has its protocol): withdrawn.
  const other = modelOf(ECMP.replace('vip: 203.0.113.1', 'vip: 203.0.113.3'));
  f.protocols.set('nftlb_vip4_203_0_113_3', { proto: 'Static', state: 'down', info: '' });
  await a.served(plan(other), other);
  t.is(f.protocols.get(VIP)!.state, 'down', 'the VIP the config no longer has is withdrawn');
  t.is(f.protocols.get('nftlb_vip4_203_0_113_3')!.state, 'up');
  t.deepEqual(events, ['+203.0.113.1', '-203.0.113.1', '+203.0.113.1', '+203.0.113.3', '-203.0.113.1']);
  // Stopping reports a failure again, even one already reported: it is the last word on what BIRD announces.
  f.birdDown = true;
  await a.reconcile();
  await a.withdrawAll();
  t.is(errors.length, 3, errors.join('\n'));
  t.regex(errors[2]!, /Unable to connect/);
});

test('status: the role from BIRD (ecmp) or from the role file (vrrp), with the config fingerprint', async (t) => {
  const e = modelOf(ECMP);
  const f = new FakeEngines();
  const host = f.host(dir(), { node: 'lb2' });
  f.birdDown = true;
  const unknown = await clusterStatus(host, e);
  t.is(unknown?.role, 'unknown');
  t.regex(unknown?.reason ?? '', /Unable to connect/);
  f.birdDown = false;
  f.protocols.set(VIP, { proto: 'Static', state: 'down', info: '' });
  f.protocols.set('nftlb_peer4_198_51_100_1', { proto: 'BGP', state: 'up', info: 'Established' });
  t.like(await clusterStatus(host, e), {
    node: 'lb2',
    mode: 'ecmp',
    role: 'withdrawn',
    peers: [{ peer: '198.51.100.1', state: 'Established' }],
  });
  f.protocols.get(VIP)!.state = 'up';
  const s = await clusterStatus(host, e);
  t.like(s, { role: 'announcing', vips: [{ vip: '203.0.113.1', announced: true }] });
  t.regex(s!.fingerprint, /^[0-9a-f]{16}$/);
  // Another config, another fingerprint; the same config, the same one.
  t.is((await clusterStatus(host, modelOf(ECMP)))!.fingerprint, s!.fingerprint);
  t.not(
    (await clusterStatus(host, modelOf(ECMP.replace('hold-time: 3', 'hold-time: 4'))))!.fingerprint,
    s!.fingerprint,
  );

  const v = modelOf(VRRP);
  const vh = new FakeEngines().host(dir(), { node: 'lb1' });
  t.like(await clusterStatus(vh, v), { role: 'unknown', node: 'lb1' });
  await vrrpTransition(vh, v, 'backup');
  t.like(await clusterStatus(vh, v), { role: 'backup', reason: null });
});

test('a VRRP transition drives conntrackd as primary-backup.sh does, every step tried, and records the state', async (t) => {
  const v = modelOf(VRRP);
  const f = new FakeEngines();
  const host = f.host(dir());
  t.deepEqual(
    (await vrrpTransition(host, v, 'master')).map((s) => [s.step, s.error]),
    [
      ['commit', null],
      ['flush', null],
      ['resync', null],
      ['bulk', null],
    ],
  );
  t.deepEqual(f.conntrackd, ['-c', '-f', '-R', '-B']);
  t.true(f.calls.every((c) => !c.startsWith('conntrackd') || c.includes(`-C ${host.cluster.conntrackdConfig}`)));
  f.failing.add('-t');
  const backup = await vrrpTransition(host, v, 'backup');
  t.deepEqual(f.conntrackd.slice(4), ['-t', '-n']);
  t.regex(backup[0]!.error ?? '', /conntrackd -C .* -t \(shorten\): \[ERROR\] can't connect/);
  t.like(await readRole(host, v.table), { state: 'backup', failed: ['shorten'] });
  await vrrpTransition(host, v, 'fault');
  t.deepEqual(f.conntrackd.slice(6), ['-t']);
  f.missing.add('conntrackd');
  await t.throwsAsync(() => vrrpTransition(host, v, 'master'), { message: /conntrackd is not installed/ });
  t.like(await readRole(host, v.table), { state: 'master', failed: ['commit', 'flush', 'resync', 'bulk'] });
  // status says the steps failed: a master whose conntrackd did not commit has not taken the connections over.
  const s = await clusterStatus(host, v);
  t.is(s?.role, 'master');
  t.regex(s?.reason ?? '', /^conntrackd steps of that transition failed: commit, flush, resync, bulk/);
});
