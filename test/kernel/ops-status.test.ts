// nftlb status against the real kernel: its counts equal the connections the test made.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Status } from '../../src/ops/status.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { openLongLived, probe, tally } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { countersAgree, loggedNft } from './support/rule-counters.js';
import { withTopology } from './support/topology.js';
import { nftlb, webConfig, workDir, writeConfig } from './support/ops.js';

kernelTest(
  'status counts equal the connections made: new connections per service, conntrack entries and bytes per backend',
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      // nft through a wrapper that logs its arguments: status must not list the table with nft -j (it reads the
      // counters from perl's netlink dump of the rules).
      const nft = loggedNft(dir);
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: dir, NFTLB_NFT: nft.path };
      await startBackends(topo, listenersFor(topo.backendV4.slice(0, 3), [8080]));
      // Byte counts need conntrack accounting; a per-namespace sysctl, set only in the test's lb namespace.
      await topo.exec(topo.lb, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_acct=1']);
      const cfg = writeConfig(dir, 'web.yaml', webConfig(topo, [1, 2, 3]));
      t.is((await nftlb(topo, ['apply', '-c', cfg], env)).exitCode, EXIT.ok);

      const results = await probe(topo, {
        target: topo.vip4,
        port: 80,
        proto: 'tcp',
        count: 60,
        sources: topo.clientV4,
      });
      const made = tally(results);
      t.is(made.get('error'), undefined, 'every connection succeeded');
      const hold = await openLongLived(topo, { target: topo.vip4, port: 80 });

      nft.reset();
      const r = await nftlb(topo, ['status', '-c', cfg, '--json'], env);
      t.is(r.exitCode, EXIT.ok, r.stderr);
      t.false(nft.listedJson(), nft.log());
      const s = JSON.parse(r.stdout) as Status & { command: string; result: string; error: unknown };
      t.like(s, { command: 'status', result: 'ok', error: null });
      t.is(s.live, 'matches');
      t.like(s.conntrack, { available: true, reason: null, accounting: true });
      t.true((s.conntrack.entries ?? 0) >= 61, 'every entry of the namespace was read');
      const web = s.services.find((x) => x.name === 'web');
      t.is(web?.newConnections, 61, '60 probes + 1 long-lived connection');
      // Status read them from perl's netlink dump of the rules: nft's own listing says the same for every chain.
      t.is((await countersAgree(t, topo.exec, topo.lb, 'inet', 'nftlb')).get('svc_web_v4')?.packets, 61);
      const sticky = s.services.find((x) => x.name === 'sticky');
      t.is(sticky?.newConnections, 0);
      for (const b of web?.backends ?? []) {
        const expected = (made.get(b.endpoint) ?? 0) + (b.endpoint === hold.backend ? 1 : 0);
        t.is(b.connections, expected, `conntrack entries of ${b.endpoint}`);
        t.is(b.established, b.endpoint === hold.backend ? 1 : 0, `established on ${b.endpoint}`);
        if (expected > 0) t.true((b.bytes ?? 0) > 0, `bytes of ${b.endpoint}`);
      }
      t.is(
        web?.backends.reduce((n, b) => n + (b.connections ?? 0), 0),
        61,
      );

      const prom = await nftlb(topo, ['status', '-c', cfg, '--prometheus', '--output', join(dir, 'nftlb.prom')], env);
      t.is(prom.exitCode, EXIT.ok, prom.stderr);
      const text = readFileSync(join(dir, 'nftlb.prom'), 'utf8');
      t.true(text.includes('nftlb_service_new_connections_total{table="nftlb",service="web"} 61\n'), text);
      t.regex(text, /^nftlb_build_info\{table="nftlb",version="[^"]+",node="v[\d.]+"\} 1$/m);
      t.true(
        text.includes(
          `nftlb_backend_established_connections{table="nftlb",service="web",backend="${hold.backend}"} 1\n`,
        ),
        text,
      );
      const human = await nftlb(topo, ['status', '-c', cfg], env);
      t.regex(human.stdout, /table inet nftlb: live table matches the config/);
      // Another program's transaction (a table of its own): the record no longer proves the table, status lists it
      // (without rendering: the record still describes a load of the config) and dumps its counters again.
      await topo.nft('add table inet other\n');
      nft.reset();
      const other = JSON.parse((await nftlb(topo, ['status', '-c', cfg, '--json'], env)).stdout) as Status;
      t.true(/-t/.test(nft.log()), `listed: ${nft.log()}`);
      t.false(nft.listedJson(), nft.log());
      t.is(other.live, 'matches');
      t.deepEqual(other.fingerprint, s.fingerprint);
      t.is(other.services.find((x) => x.name === 'web')?.newConnections, 61);
      // Until here the live table was nftlb's last load; once someone else deletes it, status sees that from the
      // listing.
      await topo.nft('delete table inet nftlb\n');
      const gone = JSON.parse((await nftlb(topo, ['status', '-c', cfg, '--json'], env)).stdout) as Status;
      t.is(gone.live, 'absent');
      t.is(gone.fingerprint.live, null);
      t.regex((await nftlb(topo, ['status', '-c', cfg], env)).stdout, /table inet nftlb: not loaded/);
      await hold.close();
    });
  },
);
