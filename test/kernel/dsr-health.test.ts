// DSR health checks that prove the VIP path (health target: vip): each probe goes from the balancer to the VIP and is
// forwarded to its backend by the netdev table's loopback egress hook, so a backend whose VIP is missing on lo fails its
// check even though its own address answers. doctor names the sysctl the IPv4 replies need (accept_local).
import { EXIT } from '../../src/cli/exit-codes.js';
import { probe } from './support/client.js';
import { setupDsrBackends, startDsrServers, withDsrTopology, type DsrTopology } from './support/dsr-topology.js';
import { healthEnv, healthRound, nftlbIn, statusOf } from './support/health.js';
import { kernelTest } from './support/kernel-test.js';
import { nftlb } from './support/ops.js';

const config = (topo: DsrTopology): string => `
services:
  - name: web
    vip: [${topo.vip4}, "${topo.vip6}"]
    port: 80
    forwarding: dsr
    interface: eth0
    scheduler: maglev
    health: { type: tcp, interval: 1, timeout: 0.5, rise: 1, fall: 1, target: vip }
    backends:
${topo.backends.map((b) => `      - { address: ${b.v4} }\n      - { address: "${b.v6}" }`).join('\n')}
`;

kernelTest(
  'DSR health target vip: probes reach the VIP through each backend; a backend without the VIP on lo goes down',
  async (t) => {
    await withDsrTopology({ backends: 3, clients: 20 }, async (topo) => {
      const h = healthEnv(config(topo));
      await setupDsrBackends(topo, h.config);
      // The servers listen on the VIPs only: a check of the backends' own addresses would fail, the VIP path passes.
      await startDsrServers(topo, { tcp: [80] });
      const doctor = async (): Promise<{ level: string; detail: string; fix: string | null }> => {
        const r = await nftlb(topo, ['doctor', '-c', h.config, '--json'], h.env);
        const checks = (
          JSON.parse(r.stdout) as { checks: { name: string; level: string; detail: string; fix: string | null }[] }
        ).checks;
        return checks.find((c) => c.name === 'dsr: VIP-path health checks on eth0')!;
      };
      const before = await doctor();
      t.is(before.level, 'fail');
      t.is(before.fix, 'sysctl -w net.ipv4.conf.eth0.accept_local=1');
      // What doctor says to do (in the balancer's namespace only).
      await topo.exec(topo.lb, ['sysctl', '-q', '-w', 'net.ipv4.conf.eth0.accept_local=1']);
      t.is((await doctor()).level, 'ok');

      // The probes need the netdev table's loopback hook: apply first (as the systemd unit does before health).
      t.is((await nftlb(topo, ['apply', '-c', h.config], h.env)).exitCode, EXIT.ok);
      const first = await healthRound(topo, h);
      t.is(first.action, 'full', first.why);
      t.deepEqual(
        first.transitions.map((x) => x.to),
        Array<string>(6).fill('up'),
        'every VIP probe passed',
      );
      const st = await statusOf(topo, h);
      t.log([...st].map(([k, v]) => `${k} ${v.health} ${v.reason}`).join('\n'));
      for (const b of topo.backends) {
        t.is(st.get(`${b.v4}:80`)?.health, 'up', b.v4);
        t.regex(st.get(`${b.v4}:80`)?.reason ?? '', /^via VIP 203\.0\.113\.1: connected/);
        t.is(st.get(`[${b.v6}]:80`)?.health, 'up', b.v6);
      }

      // b2 loses its VIP on lo (a backend set up by hand, or rebooted without its recipe); its own address still
      // answers, which a check of the backend's address would take for healthy.
      const b2 = topo.backends[1]!;
      await topo.exec(b2.ns, ['ip', 'address', 'del', `${topo.vip4}/32`, 'dev', 'lo']);
      await startDsrServers({ ...topo, backends: [b2] }, { tcp: [8080], vips4: [b2.v4], vips6: [] });
      const own = await probe(topo, { ns: topo.lb, target: b2.v4, port: 8080, proto: 'tcp', count: 1 });
      t.is(own[0]?.backend, `${b2.v4}:8080`, "b2's own address answers");
      const r = await healthRound(topo, h);
      t.is(r.action, 'incremental', r.why);
      t.deepEqual(
        r.transitions.map((x) => [x.endpoint, x.to]),
        [[`${b2.v4}:80`, 'down']],
      );
      const clients = await probe(topo, {
        target: topo.vip4,
        port: 80,
        proto: 'tcp',
        count: topo.clientV4.length,
        sources: topo.clientV4,
      });
      t.true(
        clients.every((c) => c.backend !== null && c.backend !== `${b2.v4}:80`),
        'every client answered, none by the backend without the VIP',
      );
      // The recipe again: b2 comes back.
      await topo.exec(b2.ns, ['ip', 'address', 'replace', `${topo.vip4}/32`, 'dev', 'lo']);
      const back = await healthRound(topo, h);
      t.deepEqual(
        back.transitions.map((x) => [x.endpoint, x.to]),
        [[`${b2.v4}:80`, 'up']],
      );
      t.is((await nftlbIn(topo, h, ['status', '--json'])).exitCode, EXIT.ok);
    });
  },
);
