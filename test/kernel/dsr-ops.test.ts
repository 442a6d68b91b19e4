// DSR and NAT services in one config, operated with nftlb's commands in namespaces: both tables in one apply, a
// long-lived DSR connection that survives reloads, doctor's view of the segment (another host answering ARP for the
// VIP is found), remove deleting both tables, and a config without DSR deleting the netdev table.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { Status } from '../../src/ops/status.js';
import { openLongLived, probe } from './support/client.js';
import { setupDsrBackends, startDsrServers, withDsrTopology, type DsrTopology } from './support/dsr-topology.js';
import { kernelTest } from './support/kernel-test.js';
import { countersAgree } from './support/rule-counters.js';
import { counts } from './support/nftlb.js';
import { nftlb, ruleset, workDir, writeConfig } from './support/ops.js';

const NAT_VIP = '203.0.113.5';

const config = (topo: DsrTopology, extra = ''): string => `
services:
  - name: web
    vip: ${NAT_VIP}
    port: 80
    backends:
${topo.backends.map((b) => `      - { address: ${b.v4}, port: 8080 }`).join('\n')}
  - name: echo
    vip: ${topo.vip4}
    port: 7
    forwarding: dsr
    interface: eth0
    scheduler: maglev
    backends:
${topo.backends.map((b) => `      - { address: ${b.v4} }`).join('\n')}
${extra}`;

// A second DSR service on the same VIP: a reload that changes the DSR table.
const EXTRA = `  - name: echo2
    vip: 203.0.113.1
    port: 8
    forwarding: dsr
    interface: eth0
    scheduler: source-hash
    backends:
      - { address: 198.51.100.2 }
`;

kernelTest(
  'DSR and NAT in one config: both work, a long-lived DSR connection survives reloads, doctor and remove see both',
  async (t) => {
    await withDsrTopology({ backends: 3, clients: 20, vips4: ['203.0.113.1', NAT_VIP], vips6: [] }, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: dir };
      const a = writeConfig(dir, 'a.yaml', config(topo));
      const b = writeConfig(dir, 'b.yaml', config(topo, EXTRA));
      await setupDsrBackends(topo, b);
      await startDsrServers(topo, { tcp: [7, 8], vips6: [] });
      // The NAT service's backends listen on their own addresses.
      for (const be of topo.backends)
        await startDsrServers({ ...topo, backends: [be] }, { tcp: [8080], vips4: [be.v4], vips6: [] });
      t.is((await nftlb(topo, ['apply', '-c', a], env)).exitCode, EXIT.ok);

      const nat = await probe(topo, { target: NAT_VIP, port: 80, proto: 'tcp', count: 30, sources: topo.clientV4 });
      t.log('nat', counts(nat));
      t.true(
        nat.every((r) => r.backend !== null && r.peer === '198.51.100.1'),
        'NAT: masqueraded to the balancer',
      );
      t.deepEqual(Object.values(counts(nat)), [10, 10, 10], 'round robin over the 3');
      const dsr = await probe(topo, { target: topo.vip4, port: 7, proto: 'tcp', count: 40, sources: topo.clientV4 });
      t.log('dsr', counts(dsr));
      t.true(
        dsr.every((r) => r.backend !== null && r.peer === r.source),
        'DSR: the backend sees the client',
      );

      // A long-lived DSR connection: reloads (another DSR service added, then removed) keep its backend, since the
      // hash of its flow and the service's Maglev table are the same in every load.
      const hold = await openLongLived(topo, { target: topo.vip4, port: 7, source: topo.clientV4[3], maxSeconds: 600 });
      t.is(await hold.ping(), hold.backend);
      for (const [i, cfg] of [b, a, b].entries()) {
        const r = await nftlb(topo, ['apply', '-c', cfg], env);
        t.is(r.exitCode, EXIT.ok, r.stderr);
        // The inet table by a delta; the netdev table, which every load replaces whole, said so.
        t.regex(r.stderr, /; by a delta \(.*; table netdev nftlb_dsr replaced whole\)$/);
        t.is(await hold.ping(), hold.backend, `after reload ${i + 1}`);
      }
      const eight = await probe(topo, { target: topo.vip4, port: 8, proto: 'tcp', count: 5, sources: topo.clientV4 });
      t.true(
        eight.every((r) => r.backend === '198.51.100.2:8'),
        'the added DSR service works',
      );

      // The reloads went by delta: the NAT service did not change, so its chain, and its counter, stayed (30 connections
      // before, 6 now); a full load starts every counter again.
      await probe(topo, { target: NAT_VIP, port: 80, proto: 'tcp', count: 6, sources: topo.clientV4 });
      const counted = async (): Promise<number | null> =>
        (JSON.parse((await nftlb(topo, ['status', '-c', b, '--json'], env)).stdout) as Status).services[0]!
          .newConnections;
      t.is(await counted(), 36);
      t.is((await nftlb(topo, ['apply', '-c', b, '--force'], env)).exitCode, EXIT.ok);
      t.is(await hold.ping(), hold.backend, 'after a full reload');
      await probe(topo, { target: NAT_VIP, port: 80, proto: 'tcp', count: 6, sources: topo.clientV4 });
      const st = JSON.parse((await nftlb(topo, ['status', '-c', b, '--json'], env)).stdout) as Status;
      t.is(st.live, 'matches');
      t.deepEqual(
        st.services.map((s) => [s.name, s.forwarding, s.newConnections !== null, s.packets !== null]),
        [
          ['web', 'nat', true, false],
          ['echo', 'dsr eth0', false, true],
          ['echo2', 'dsr eth0', false, true],
        ],
      );
      t.is(st.services[0]!.newConnections, 6);
      // The counters status read from perl's netlink dump of each table's rules are nft's, in both tables.
      await countersAgree(t, topo.exec, topo.lb, 'inet', 'nftlb');
      const netdev = await countersAgree(t, topo.exec, topo.lb, 'netdev', 'nftlb_dsr');
      t.true(
        [...netdev.values()].some((c) => c.packets > 0),
        'the DSR chains counted packets',
      );
      t.is((await nftlb(topo, ['diff', '-c', b], env)).exitCode, EXIT.ok);

      // doctor: the segment is sound; then a backend answers ARP for the VIP (arp_ignore back to 0) and doctor says so.
      const doc = async (): Promise<{ name: string; level: string; detail: string }[]> =>
        (JSON.parse((await nftlb(topo, ['doctor', '-c', b, '--json'], env)).stdout) as { checks: never[] }).checks;
      const arping = await topo.exec(topo.lb, ['sh', '-c', 'command -v arping'], { reject: false });
      if (arping.exitCode !== 0) t.log('!!! arping missing (apt-get install iputils-arping): VIP probe not tested !!!');
      else {
        const ok = (await doc()).filter((c) => c.name.startsWith('dsr:'));
        t.log(ok.map((c) => `${c.level} ${c.name}: ${c.detail}`).join('\n'));
        t.true(ok.length >= 4 && ok.every((c) => c.level === 'ok'));
        const be = topo.backends[0]!;
        for (const k of ['all', 'eth0'])
          await topo.exec(be.ns, ['sysctl', '-q', '-w', `net.ipv4.conf.${k}.arp_ignore=0`]);
        const mac = (await topo.exec(be.ns, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
        const bad = (await doc()).find((c) => c.name === 'dsr: VIP 203.0.113.1 answered by another host on eth0')!;
        t.is(bad.level, 'warn');
        t.true(bad.detail.includes(`answered by ${mac}`), bad.detail);
      }

      // Back to a config without DSR: the netdev table goes in the same transaction (a delta: the inet table is the same
      // but for its fingerprint); then remove deletes the rest.
      const natOnly = writeConfig(dir, 'nat.yaml', config(topo).replace(/ {2}- name: echo[\s\S]*$/, ''));
      const r = await nftlb(topo, ['apply', '-c', natOnly], env);
      t.is(r.exitCode, EXIT.ok, r.stderr);
      t.regex(r.stderr, /; deleted table netdev nftlb_dsr; by a delta \(the fingerprint only\)$/);
      t.notRegex(await ruleset(topo), /table netdev nftlb_dsr/);
      t.is((await nftlb(topo, ['apply', '-c', b], env)).exitCode, EXIT.ok);
      t.regex(await ruleset(topo), /table netdev nftlb_dsr/);
      const rm = await nftlb(topo, ['remove', '-c', b], env);
      t.is(rm.stderr, 'nftlb: removed table inet nftlb and table netdev nftlb_dsr');
      t.notRegex(await ruleset(topo), /nftlb/);
      await hold.close();
    });
  },
);
