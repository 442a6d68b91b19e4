// Proves the kernel harness itself with a hand-written ruleset (no nftlb code involved).
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { listenersFor, startBackends } from './backends.js';
import { LineReader, sleep } from './child.js';
import { openLongLived, probe, tallyObject } from './client.js';
import { kernelTest } from './kernel-test.js';
import { sweepLeftovers, withTopology, type Topology } from './topology.js';

const TABLE = `table inet harness {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 203.0.113.1 tcp dport 80 dnat ip to numgen inc mod 3 map { 0 : 198.51.100.2 . 8080, 1 : 198.51.100.3 . 8080, 2 : 198.51.100.4 . 8080 }
    ip daddr 203.0.113.1 udp dport 53 dnat ip to numgen inc mod 3 map { 0 : 198.51.100.2 . 8053, 1 : 198.51.100.3 . 8053, 2 : 198.51.100.4 . 8053 }
    ip6 daddr 2001:db8:1::1 tcp dport 80 dnat ip6 to numgen inc mod 3 map { 0 : 2001:db8:2::2 . 8080, 1 : 2001:db8:2::3 . 8080, 2 : 2001:db8:2::4 . 8080 }
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat masquerade
  }
}
`;

// Replaces the whole table in one transaction (empty declaration first so delete cannot fail).
const RELOAD = `table inet harness {}\ndelete table inet harness\n${TABLE}`;

const even = (hosts: string[], port: number, each: number, v6 = false): Record<string, number> =>
  Object.fromEntries(hosts.map((h) => [v6 ? `[${h}]:${port}` : `${h}:${port}`, each]));

async function startAll(topo: Topology): Promise<Awaited<ReturnType<typeof startBackends>>> {
  const v4 = topo.backendV4.slice(0, 3);
  const v6 = topo.backendV6.slice(0, 3);
  return startBackends(topo, [...listenersFor(v4, [8080], [8053]), ...listenersFor(v6, [8080])]);
}

// SIGKILLed orphans need a moment to be reaped by init: poll, bounded, for the pid to disappear.
async function exitsSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat === '' || / Z /.test(stat)) return true;
    await sleep(100);
  }
  return false;
}

async function ourNamespaces(prefix: string): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list']);
  return r.stdout.split('\n').filter((l) => l.startsWith(prefix));
}

kernelTest('round robin over v4 TCP, v4 UDP and v6 TCP is exact, backends see the masquerade address', async (t) => {
  await withTopology({}, async (topo) => {
    await startAll(topo);
    await topo.nft(TABLE);
    const v4 = topo.backendV4.slice(0, 3);
    const v6 = topo.backendV6.slice(0, 3);

    const tcp = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 30, sources: topo.clientV4 });
    t.deepEqual(tallyObject(tcp), even(v4, 8080, 10));
    t.true(
      tcp.every((r) => r.peer === '198.51.100.1'),
      'masquerade: backends see the lb',
    );
    t.deepEqual(
      tcp.map((r) => r.source),
      topo.clientV4.slice(0, 30),
      'sources are used round robin',
    );

    const udp = await probe(topo, { target: topo.vip4, port: 53, proto: 'udp', count: 30, sources: topo.clientV4 });
    t.deepEqual(tallyObject(udp), even(v4, 8053, 10));
    t.true(udp.every((r) => r.peer === '198.51.100.1'));
    // From ONE source address: only distinct source ports keep every query its own conntrack flow.
    const udp1 = await probe(topo, {
      target: topo.vip4,
      port: 53,
      proto: 'udp',
      count: 600,
      sources: [topo.clientV4[0]!],
    });
    t.deepEqual(tallyObject(udp1), even(v4, 8053, 200));

    const tcp6 = await probe(topo, { target: topo.vip6, port: 80, proto: 'tcp', count: 30, sources: topo.clientV6 });
    t.deepEqual(tallyObject(tcp6), even(v6, 8080, 10, true));
    t.true(tcp6.every((r) => r.peer === '2001:db8:2::1'));

    // Not DNATed, so not masqueraded: the backend routes its reply back through the lb itself.
    const direct = await probe(topo, { target: '198.51.100.3', port: 8080, proto: 'tcp', count: 2 });
    t.deepEqual(
      direct.map((r) => [r.backend, r.peer]),
      [
        ['198.51.100.3:8080', topo.clientV4[0]],
        ['198.51.100.3:8080', topo.clientV4[0]],
      ],
    );
  });
});

kernelTest(
  'a long-lived connection keeps its backend across a table reload; stopOne takes one backend down',
  async (t) => {
    await withTopology({ clients: 4 }, async (topo) => {
      const backends = await startAll(topo);
      await topo.nft(TABLE);
      const conn = await openLongLived(topo, { target: topo.vip4, port: 80, source: topo.clientV4[1] });
      t.is(conn.backend, '198.51.100.2:8080', 'first connection takes slot 0');
      t.is(conn.peer, '198.51.100.1');
      t.is(await conn.ping(), conn.backend);

      await topo.nft(RELOAD);
      t.is(await conn.ping(), conn.backend, 'conntrack keeps the NAT binding without any rule');
      t.is(await conn.ping(), conn.backend);
      // The reload re-created the rule, so numgen starts again at slot 0.
      const after = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 3 });
      t.deepEqual(
        after.map((r) => r.backend),
        ['198.51.100.2:8080', '198.51.100.3:8080', '198.51.100.4:8080'],
      );

      await backends.stopOne('198.51.100.3');
      const down = await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 6, timeoutMs: 1000 });
      t.deepEqual(tallyObject(down), { '198.51.100.2:8080': 2, '198.51.100.4:8080': 2, error: 2 });
      t.true(down.filter((r) => r.backend === null).every((r) => r.error === 'ECONNREFUSED'));
      t.is(await conn.ping(), conn.backend, 'the other backends are untouched');
      await conn.close();
    });
  },
);

kernelTest('namespaces are gone after withTopology returns and after it throws', async (t) => {
  let prefix = '';
  const value = await withTopology({ clients: 1, backends4: 1, backends6: 1 }, async (topo) => {
    prefix = topo.prefix;
    t.is((await ourNamespaces(prefix)).length, 3);
    return 42;
  });
  t.is(value, 42);
  t.deepEqual(await ourNamespaces(prefix), []);

  await t.throwsAsync(
    withTopology({ clients: 1, backends4: 1, backends6: 1 }, async (topo) => {
      prefix = topo.prefix;
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      throw new Error('boom inside fn');
    }),
    { message: 'boom inside fn' },
  );
  t.deepEqual(await ourNamespaces(prefix), []);
});

kernelTest('a harness process killed with SIGTERM leaves no namespace and no backend behind', async (t) => {
  const url = (name: string): string => JSON.stringify(new URL(name, import.meta.url).href);
  const script = `
    import { withTopology } from ${url('./topology.js')};
    import { listenersFor, startBackends } from ${url('./backends.js')};
    await withTopology({ clients: 1, backends4: 2, backends6: 1 }, async (topo) => {
      const b = await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      console.log(JSON.stringify({ prefix: topo.prefix, pids: b.processes.map((p) => p.pid) }));
      await new Promise((r) => setTimeout(r, 30000));
    });`;
  const child = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, buffer: false });
  const up = JSON.parse(await new LineReader(child.stdout, 'harness child').next(20000)) as {
    prefix: string;
    pids: number[];
  };
  t.is((await ourNamespaces(up.prefix)).length, 3);
  child.kill('SIGTERM');
  const done = await child;
  t.is(done.exitCode, 143);
  t.deepEqual(await ourNamespaces(up.prefix), []);
  t.is(up.pids.length, 2);
  for (const pid of up.pids) t.true(await exitsSoon(pid), `backend ${pid} is gone`);
});

kernelTest('sweepLeftovers deletes namespaces of dead harness processes only', async (t) => {
  // pid far above any pid_max, so it can never be alive.
  const stale = 'nftlbt-999999999-0-client';
  await execa('ip', ['netns', 'add', stale]);
  try {
    const swept = await sweepLeftovers();
    t.true(swept.includes(stale));
    t.deepEqual(await ourNamespaces(stale), []);
  } finally {
    await execa('ip', ['netns', 'del', stale], { reject: false });
  }
});
