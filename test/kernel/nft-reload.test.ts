import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openLongLived, probe } from './support/client.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { FIXTURES } from '../support/fixtures.js';
import { counts, loadYaml } from './support/nftlb.js';

const v1 = `
services:
  - name: mqtt
    vip: 203.0.113.1
    port: 1883
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`;
const v2 = `
services:
  - name: mqtt
    vip: 203.0.113.1
    port: 1883
    scheduler: random
    backends:
      - { address: 198.51.100.2, port: 8080, state: down }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
  - name: extra
    vip: 203.0.113.1
    port: 25
    backends:
      - { address: 198.51.100.4, port: 8080 }
`;

kernelTest(
  'kernel: established connections survive a re-render and reload; other tables stay byte-identical',
  async (t) => {
    await withTopology({ backends4: 3, backends6: 1 }, async (topo) => {
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      // Tables of other tools: a docker-like ip nat table and a firewalld-like inet filter table.
      await topo.nft(`table ip dockerish {
  chain PREROUTING { type nat hook prerouting priority dstnat; policy accept; ip daddr 203.0.113.99 tcp dport 8000 dnat to 198.51.100.2:8080; }
  chain POSTROUTING { type nat hook postrouting priority srcnat; policy accept; ip saddr 198.18.0.0/15 masquerade; }
}
table inet firewalldish {
  set trusted { type ipv4_addr; elements = { 203.0.113.10, 203.0.113.11 }; }
  chain filter_FORWARD { type filter hook forward priority filter + 10; policy accept; ct state established,related accept; }
}
`);
      const others = async (): Promise<string> =>
        (await topo.exec('lb', ['nft', 'list', 'table', 'ip', 'dockerish'])).stdout +
        (await topo.exec('lb', ['nft', 'list', 'table', 'inet', 'firewalldish'])).stdout;
      const before = await others();

      await loadYaml(topo, v1);
      const conn = await openLongLived(topo, { target: topo.vip4, port: 1883 });
      t.regex(conn.backend, /^198\.51\.100\.[23]:8080$/);
      t.is(await conn.ping(), conn.backend);

      // Reload with a different config: its backend goes down, the scheduler changes, a service is added.
      await loadYaml(topo, v2);
      t.is(await conn.ping(), conn.backend, 'the long-lived connection is still served by the same backend');
      const fresh = counts(await probe(topo, { target: topo.vip4, port: 1883, proto: 'tcp', count: 20 }));
      t.false('198.51.100.2:8080' in fresh, `new connections avoid the down backend: ${JSON.stringify(fresh)}`);
      t.is((fresh['198.51.100.3:8080'] ?? 0) + (fresh['198.51.100.4:8080'] ?? 0), 20);

      await loadYaml(topo, v1);
      t.is(await conn.ping(), conn.backend, 'and after a second reload');
      await conn.close();
      t.is(await others(), before, 'other tables are byte-identical');
    });
  },
);

function goldenScripts(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return goldenScripts(p);
    return n === 'script.nft' ? [p] : [];
  });
}

kernelTest('kernel: every golden script passes nft -c and loads over an existing table', async (t) => {
  await withTopology({ backends4: 1, backends6: 1, clients: 1 }, async (topo) => {
    const scripts = goldenScripts(FIXTURES);
    t.true(scripts.length >= 15, `found ${scripts.length} golden scripts`);
    const devices = new Set<string>(['lo']);
    for (const s of scripts) {
      const text = readFileSync(s, 'utf8');
      // The interfaces a DSR table hooks (device "eth1"): veths of those names in the lb namespace.
      for (const [, dev] of text.matchAll(/ device "([^"]+)"/g)) {
        if (devices.has(dev!)) continue;
        await topo.exec('lb', ['ip', 'link', 'add', dev!, 'type', 'veth', 'peer', 'name', `nftlbp${devices.size}`]);
        devices.add(dev!);
      }
      const c = await topo.exec('lb', ['nft', '-c', '-f', '-'], { input: text, reject: false });
      t.is(c.exitCode, 0, `${relative(FIXTURES, s)}: ${c.stderr}`);
      // Loading twice proves the script works on a host without and with its table.
      await topo.nft(text);
      await topo.nft(text);
      const listed = await topo.exec('lb', ['nft', 'list', 'ruleset'], { reject: false });
      t.is(listed.exitCode, 0, `nft list ruleset after ${relative(FIXTURES, s)}: ${listed.stderr}`);
      // nftlb's tables (the inet one, and the netdev one with DSR services) and no other.
      const owned = [...text.matchAll(/^table (\S+) (\S+) \{\}$/gm)].map((m) => `table ${m[1]} ${m[2]}`);
      const tables = listed.stdout.split('\n').filter((l) => l.startsWith('table '));
      t.deepEqual(
        tables.map((l) => l.replace(/ \{$/, '')),
        owned,
        `only nftlb's tables after loading ${relative(FIXTURES, s)}`,
      );
      for (const o of owned) await topo.exec('lb', ['nft', 'delete', ...o.split(' ')]);
    }
  });
});
