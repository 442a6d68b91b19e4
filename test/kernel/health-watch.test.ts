// nftlb health --watch as a long-running process in the lb namespace: it removes a stopped backend within
// interval x fall (+ probe time), logs the transition with its reason, re-reads the config on SIGHUP and exits 0 on SIGTERM.
import { execa } from 'execa';
import { healthEnv, landed } from './health-support.js';
import { MAIN } from './ops-support.js';
import { listenersFor, startBackends } from './support/backends.js';
import { LineReader, sleep } from './support/child.js';
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

// Reads stderr lines until one matches, within a bounded time.
async function waitFor(lines: LineReader, re: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`no line matching ${re} within ${ms} ms`);
    const l = await lines.next(left);
    if (re.test(l)) return l;
  }
}

kernelTest('health --watch: removes a stopped backend, logs why, follows SIGHUP, exits 0 on SIGTERM', async (t) => {
  await withTopology({}, async (topo) => {
    const [b0, b1, b2] = topo.backendV4 as [string, string, string];
    const servers = await startBackends(topo, listenersFor([b0, b1, b2], [8080]));
    const h = healthEnv(config(topo, [b0, b1], 0.5));
    const env = Object.entries(h.env).map(([k, v]) => `${k}=${v}`);
    const proc = execa(
      'ip',
      ['netns', 'exec', topo.lb, 'env', ...env, process.execPath, MAIN, 'health', '--watch', '-c', h.config],
      { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false },
    );
    let exited = false;
    const done = proc.then((r) => ((exited = true), r));
    topo.defer(async () => {
      if (!exited && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
      await Promise.race([done, sleep(3000)]);
    });
    const lines = new LineReader(proc.stderr!, 'nftlb health --watch');
    await waitFor(lines, /reloaded table \(no table loaded/, 10000);
    await waitFor(lines, new RegExp(`${b1.replace(/\./g, '\\.')}:8080: unknown -> up`), 10000);

    const stoppedAt = Date.now();
    await servers.stopOne(b1);
    const down = await waitFor(
      lines,
      new RegExp(`${b1.replace(/\./g, '\\.')}:8080: up -> down \\(2 failures in a row, last: ECONNREFUSED\\)`),
      10000,
    );
    await waitFor(lines, /updated web/, 5000);
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
    process.kill(proc.pid!, 'SIGHUP');
    await waitFor(lines, /reloaded .*nftlb\.yaml/, 5000);
    await waitFor(lines, /reloaded table \(the config changed\)/, 10000);
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
    process.kill(proc.pid!, 'SIGHUP');
    await waitFor(lines, /keeping the previous one/, 5000);

    process.kill(proc.pid!, 'SIGTERM');
    await waitFor(lines, /stopping/, 5000);
    const r = await Promise.race([done, sleep(5000).then(() => null)]);
    t.not(r, null, 'exited within 5 s of SIGTERM');
    t.is(r?.exitCode, 0);
  });
});
