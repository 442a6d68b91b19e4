// The persistence entries nftlb status counts, read from the kernel's dump of the entry maps (perl, netlink:
// src/system/set-elements.ts), are the entries nft lists, in each of the three maps (IPv4 by client, IPv4 by client
// and VIP, IPv6 by client); and status's counts per backend are those of nft's listing.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { ENTRY_MAPS } from '../../src/nft/persistence.js';
import { entriesOfElements, entriesOfJson, type LiveEntry } from '../../src/nft/persistence-entries.js';
import type { Ident } from '../../src/nft/names.js';
import type { Status } from '../../src/ops/status.js';
import { parseSetElements, SET_ELEMENTS_PROGRAM } from '../../src/system/set-elements.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { nftlb, workDir, writeConfig } from './support/ops.js';
import { landing, sticky } from './support/persistence.js';
import { countersAgree, loggedNft } from './support/rule-counters.js';
import { withTopology } from './support/topology.js';

const config = `
services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    port: 80
    persistence: { timeout: 600 }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
  - name: imap
    vip: 203.0.113.1
    port: 143
    persistence: { key: saddr-daddr, timeout: 600 }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`;

// Entries without the time left (it runs down between two reads), in one order.
const comparable = (es: readonly LiveEntry[]): string[] =>
  es.map((e) => JSON.stringify({ ...e, expires: null })).sort();

kernelTest('kernel persistence: the entry maps dumped over netlink are the entries nft lists', async (t) => {
  await withTopology({ backends4: 2, backends6: 1, clients: 6 }, async (topo) => {
    const dir = workDir();
    const nft = loggedNft(dir);
    const env = {
      NFTLB_LOCK: join(dir, 'run', 'apply.lock'),
      NFTLB_STATE_DIR: join(dir, 'state'),
      NFTLB_NFT: nft.path,
    };
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080]));
    const file = writeConfig(dir, 'nftlb.yaml', config);
    t.is((await nftlb(topo, ['apply', '-c', file], env)).exitCode, EXIT.ok);
    sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 2 }));
    sticky(await landing(topo, { target: topo.vip4, port: 143, sources: topo.clientV4, rounds: 2 }));
    sticky(await landing(topo, { target: topo.vip6, port: 80, sources: topo.clientV6.slice(0, 2), rounds: 2 }));

    const dump = await topo.exec(topo.lb, ['perl', '-e', SET_ELEMENTS_PROGRAM, '1', 'nftlb', ...ENTRY_MAPS]);
    // The namespace runner strips the final line feed the program prints.
    const maps = parseSetElements(`${dump.stdout}\n`, ENTRY_MAPS);
    t.not(maps, null, dump.stdout.slice(-300));
    const dumped = [...maps!].flatMap(([name, els]) => entriesOfElements(name as Ident, els));
    const listing = await topo.exec(topo.lb, ['nft', '-j', 'list', 'table', 'inet', 'nftlb']);
    const listed = entriesOfJson((JSON.parse(listing.stdout) as { nftables: unknown[] }).nftables);
    t.deepEqual(
      [...new Set(dumped.map((e) => e.map))].sort(),
      ['persist4', 'persist4_daddr', 'persist6'],
      'entries in every map',
    );
    // Six IPv4 clients, by client and by client and VIP; the two IPv6 clients share a /64 (persistence's netmask).
    const count = (m: string): number => dumped.filter((e) => e.map === m).length;
    t.deepEqual([count('persist4'), count('persist4_daddr'), count('persist6')], [6, 6, 1]);
    t.deepEqual(comparable(dumped), comparable(listed));
    t.true(dumped.every((e) => e.expires !== null && e.expires > 0 && e.expires <= 600));
    t.true(dumped.filter((e) => e.map === 'persist4_daddr').every((e) => e.vip === topo.vip4));

    // status counts them per backend (from the dump), as nft's listing has them.
    nft.reset();
    const r = await nftlb(topo, ['status', '-c', file, '--json'], env);
    t.is(r.exitCode, EXIT.ok, r.stderr);
    t.false(nft.listedJson(), `status read the dumps, not nft -j list: ${nft.log()}`);
    const st = JSON.parse(r.stdout) as Status;
    // persistence list reads them from the dumps too (no nft listing), one entry per dumped one.
    nft.reset();
    const all = (await nftlb(topo, ['persistence', 'list', '--json', '-c', file], env)).stdout;
    t.false(nft.listedJson(), `persistence list read the dumps: ${nft.log()}`);
    const entries = (JSON.parse(all) as { entries: { service: string | null; backend: string | null }[] }).entries;
    t.is(entries.length, dumped.length);
    for (const s of st.services)
      for (const b of s.backends)
        t.is(
          b.persistenceEntries,
          entries.filter((e) => e.service === s.name && e.backend === b.endpoint).length,
          `${s.name} ${b.endpoint}`,
        );
    // flush removes them all (the dumps find them, nft deletes them): nothing left in any map.
    nft.reset();
    const flushed = JSON.parse((await nftlb(topo, ['persistence', 'flush', '--json', '-c', file], env)).stdout) as {
      flushed: number;
    };
    t.is(flushed.flushed, dumped.length);
    t.false(nft.listedJson(), nft.log());
    const left = await topo.exec(topo.lb, ['nft', '-j', 'list', 'table', 'inet', 'nftlb']);
    t.deepEqual(entriesOfJson((JSON.parse(left.stdout) as { nftables: unknown[] }).nftables), []);
    await countersAgree(t, topo.exec, topo.lb, 'inet', 'nftlb');
  });
});
