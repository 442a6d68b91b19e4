// nftlb health --watch as a long-running process in the lb namespace: it removes a stopped backend within
// interval x fall (+ probe time), logs the transition with its reason, re-reads the config on SIGHUP and exits 0 on SIGTERM.
import { healthEnv, landed, startWatch, waitFor } from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { probe } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';

const config = (topo: Topology, addrs: readonly string[], interval: number): string =>
  [
    'table: hc',
    'services:',
    '  - name: web',
    `    vip: ${topo.vip4}`,
    '    port: 80',
    `    health: { type: tcp, interval: ${interval}, timeout: 0.2, rise: 2, fall: 2 }`,
    '    backends:',
    ...addrs.map((a) => `      - { address: ${a}, port: 8080 }`),
  ].join('\n');

kernelTest('health --watch: removes a stopped backend, logs why, follows SIGHUP, exits 0 on SIGTERM', async (t) => {
  await withTopology({}, async (topo) => {
    const [b0, b1, b2] = topo.backendV4 as [string, string, string];
    const servers = await startBackends(topo, listenersFor([b0, b1, b2], [8080]));
    const h = healthEnv(config(topo, [b0, b1], 0.5));
    const w = startWatch(topo, h);
    const lines = w.lines;
    await waitFor(lines, /reloaded table \(no table loaded/, 60000);
    await waitFor(lines, new RegExp(`${b1.replace(/\./g, '\\.')}:8080: unknown -> up`), 60000);

    const stoppedAt = Date.now();
    await servers.stopOne(b1);
    const down = await waitFor(
      lines,
      new RegExp(`${b1.replace(/\./g, '\\.')}:8080: up -> down \\(2 failures in a row, last: ECONNREFUSED\\)`),
      60000,
    );
    await waitFor(lines, /updated web/, 30000);
    t.log(`stop -> removal logged after ${Date.now() - stoppedAt} ms (interval 500 ms x fall 2): ${down}`);
    const after = await probe(topo, {
      target: topo.vip4,
      port: 80,
      proto: 'tcp',
      count: 30,
      sources: topo.clientV4.slice(0, 5),
      timeoutMs: 2000,
    });
    t.deepEqual(landed(after), { backends: [`${b0}:8080`], errors: 0 });

    // SIGHUP with a config that adds b2: it is checked and joins.
    h.write(config(topo, [b0, b1, b2], 0.5));
    process.kill(w.pid, 'SIGHUP');
    await waitFor(lines, /reloaded .*nftlb\.yaml/, 30000);
    await waitFor(lines, /reloaded table \(the config changed\)/, 60000);
    const withB2 = await probe(topo, {
      target: topo.vip4,
      port: 80,
      proto: 'tcp',
      count: 30,
      sources: topo.clientV4.slice(0, 5),
      timeoutMs: 2000,
    });
    t.deepEqual(landed(withB2), { backends: [`${b0}:8080`, `${b2}:8080`], errors: 0 });

    // An invalid config on SIGHUP is reported and the previous one kept.
    h.write('services: [ nope');
    process.kill(w.pid, 'SIGHUP');
    await waitFor(lines, /keeping the previous one/, 30000);

    const stopped = w.stop();
    await waitFor(lines, /stopping/, 30000);
    t.is(await stopped, 0, 'exits 0 after SIGTERM');
  });
});
