// Persistence entries seen and cleared by the operator: nftlb status (table, JSON, Prometheus) counts them per backend,
// nftlb persistence list shows them in config terms, flush removes one client's, one service's or all.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { nftlb, workDir, writeConfig } from './support/ops.js';
import { landing, liveEntries, sticky } from './support/persistence.js';
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
      - { address: 198.51.100.4, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
  - name: mail
    vip: 203.0.113.1
    port: 25
    persistence: { netmask: 24 }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`;

type Entry = { service: string | null; client: string; backend: string | null; active: boolean; expires: number };

kernelTest('kernel persistence: status counts entries per backend; persistence list and flush', async (t) => {
  await withTopology({ backends4: 3, backends6: 1, clients: 20 }, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080]));
    const file = writeConfig(dir, 'nftlb.yaml', config);
    const run = async (...args: string[]): Promise<string> => {
      const r = await nftlb(topo, [...args, '-c', file], env);
      t.is(r.exitCode, EXIT.ok, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await run('apply');
    const web = sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 3 }));
    sticky(await landing(topo, { target: topo.vip4, port: 25, sources: topo.clientV4, rounds: 3 }));
    sticky(await landing(topo, { target: topo.vip6, port: 80, sources: topo.clientV6.slice(0, 1), rounds: 3 }));

    // status: per backend, the entries that name it (web's 20 clients, mail's one /24, one IPv6 /64).
    const status = JSON.parse(await run('status', '--json')) as {
      services: { name: string; backends: { endpoint: string; persistenceEntries?: number | null }[] }[];
    };
    const svc = status.services.find((s) => s.name === 'web')!;
    for (const b of svc.backends.filter((x) => !x.endpoint.startsWith('[')))
      t.is(b.persistenceEntries, [...web.values()].filter((x) => x === b.endpoint).length, b.endpoint);
    t.is(svc.backends.find((b) => b.endpoint.startsWith('['))!.persistenceEntries, 1);
    const mail = status.services.find((s) => s.name === 'mail')!;
    t.is(
      mail.backends.reduce((n, b) => n + (b.persistenceEntries ?? 0), 0),
      1,
    );
    t.regex(await run('status'), /PERSIST/);
    t.regex(
      await run('status', '--prometheus'),
      /nftlb_backend_persistence_entries\{table="nftlb",service="web",backend="198\.51\.100\.\d:8080"\} \d+/,
    );

    // list: every entry in config terms, or one client's.
    const list = async (...f: string[]): Promise<Entry[]> =>
      (JSON.parse(await run('persistence', 'list', '--json', ...f)) as { entries: Entry[] }).entries;
    const all = await list();
    t.is(all.length, 22);
    t.like(JSON.parse(await run('persistence', 'list', '--json')), { loaded: true });
    const c10 = topo.clientV4[0]!;
    t.deepEqual(
      (await list('--client', c10)).map((e) => [e.service, e.client, e.backend, e.active]),
      [
        ['mail', '203.0.113.0/24', (await list('--service', 'mail'))[0]!.backend, true],
        ['web', `${c10}/32`, web.get(c10)!, true],
      ],
    );
    t.true(all.every((e) => e.expires > 0 && e.expires <= 600));
    t.regex(await run('persistence', 'list'), /^SERVICE\s+CLIENT\s+VIP\s+BACKEND\s+ID\s+ACTIVE\s+EXPIRES$/m);

    // flush: one client of one service, then a service, then everything.
    const flushed = async (...f: string[]): Promise<number> =>
      (JSON.parse(await run('persistence', 'flush', '--json', ...f)) as { flushed: number }).flushed;
    t.is(await flushed('--service', 'web', '--client', c10), 1);
    t.is((await list('--client', c10)).length, 1, "the client's mail entry stays");
    t.is(await flushed('--service', 'web'), 20, "web's 19 other IPv4 clients and its IPv6 one");
    t.is((await liveEntries(topo, 'persist4')).length, 1);
    t.is((await liveEntries(topo, 'persist6')).length, 0);
    t.is(await flushed(), 1, "mail's entry");
    t.deepEqual(await list(), []);

    // web's netmask made shorter: a reload keeps its /32 entries, which no client matches any more: they are listed
    // as orphans (service -), and --service web finds only the entries made since.
    sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4.slice(0, 3), rounds: 1 }));
    const shorter = writeConfig(
      dir,
      'nftlb.yaml',
      config.replace('persistence: { timeout: 600 }', 'persistence: { timeout: 600, netmask: 24 }'),
    );
    t.is((await nftlb(topo, ['apply', '-c', shorter], env)).exitCode, EXIT.ok);
    t.deepEqual(
      (await list()).map((e) => [e.service, e.client]),
      topo.clientV4
        .slice(0, 3)
        .map((c) => [null, `${c}`])
        .sort(),
    );
    t.deepEqual(await list('--service', 'web'), []);
    t.is(await flushed(), 3, 'flush removes the orphans');
    const bad = await nftlb(topo, ['persistence', 'list', '--service', 'nosuch', '-c', file], env);
    t.is(bad.exitCode, EXIT.usage, bad.stderr);
    const badClient = await nftlb(topo, ['persistence', 'flush', '--client', 'nope', '-c', file], env);
    t.is(badClient.exitCode, EXIT.usage, badClient.stderr);
  });
});
