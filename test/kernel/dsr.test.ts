// Direct server return in namespaces, behind a learning switch (a bridge): TCP connections and UDP queries complete
// over IPv4 and IPv6, the backends see the clients' own addresses and answer them directly, the balancer counts every
// packet of the clients' direction and sees none of the replies, hashing is sticky per client. The backends are set up
// with nftlb's own recipe (nftlb backend-setup), the table is loaded by nftlb apply.
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { Status } from '../../src/ops/status.js';
import { probe, type ProbeResult } from './support/client.js';
import {
  setupDsrBackends,
  startDsrServers,
  watchBalancer,
  withDsrTopology,
  type DsrTopology,
} from './support/dsr-topology.js';
import { kernelTest } from './support/kernel-test.js';
import { counts } from './support/nftlb.js';
import { nftlb, workDir, writeConfig } from './support/ops.js';

const config = (topo: DsrTopology): string => `
services:
  - name: dns
    vip: [${topo.vip4}, "${topo.vip6}"]
    port: 53
    protocol: [udp, tcp]
    forwarding: dsr
    interface: eth0
    scheduler: source-hash
    hash: { fields: [saddr], seed: 0x5eed }
    backends:
${topo.backends.map((b) => `      - { address: ${b.v4} }\n      - { address: "${b.v6}" }`).join('\n')}
`;

// Every result answered, from a backend that saw the client's own address; each client on one backend throughout.
function checkSticky(t: ExecutionContext, results: readonly ProbeResult[], what: string): Map<string, string> {
  const where = new Map<string, string>();
  for (const r of results) {
    t.truthy(r.backend, `${what}: ${r.source} failed: ${r.error}`);
    t.is(r.peer, r.source, `${what}: the backend saw the client's own address`);
    const was = where.get(r.source!);
    if (was !== undefined) t.is(r.backend, was, `${what}: client ${r.source} sticks to its backend`);
    where.set(r.source!, r.backend!);
  }
  return where;
}

kernelTest(
  'DSR: TCP and UDP, IPv4 and IPv6, complete through a learning switch; the balancer counts the clients packets and sees no reply',
  async (t) => {
    await withDsrTopology({ backends: 3, clients: 40 }, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: dir };
      const file = writeConfig(dir, 'dsr.yaml', config(topo));
      const ran = await setupDsrBackends(topo, file);
      t.deepEqual(ran.get(topo.backends[0]!.ns), [
        ['ip', 'address', 'replace', '203.0.113.1/32', 'dev', 'lo'],
        ['sysctl', '-w', 'net.ipv4.conf.all.arp_ignore=1'],
        ['sysctl', '-w', 'net.ipv4.conf.all.arp_announce=2'],
        ['sysctl', '-w', 'net.ipv4.conf.eth0.arp_ignore=1'],
        ['sysctl', '-w', 'net.ipv4.conf.eth0.arp_announce=2'],
        ['ip', 'address', 'replace', '2001:db8:1::1/128', 'dev', 'lo'],
      ]);
      await startDsrServers(topo, { tcp: [53], udp: [53] });
      const apply = await nftlb(topo, ['apply', '-c', file], env);
      t.is(apply.exitCode, EXIT.ok, apply.stderr);
      t.regex(apply.stderr, /applied table inet nftlb and table netdev nftlb_dsr/);
      const seen = await watchBalancer(topo);

      const v4 = topo.clientV4;
      const v6 = topo.clientV6.slice(0, 20);
      const udp4 = await probe(topo, { target: topo.vip4, port: 53, proto: 'udp', count: 3 * v4.length, sources: v4 });
      const tcp4 = await probe(topo, { target: topo.vip4, port: 53, proto: 'tcp', count: 3 * v4.length, sources: v4 });
      const udp6 = await probe(topo, { target: topo.vip6, port: 53, proto: 'udp', count: 2 * v6.length, sources: v6 });
      const tcp6 = await probe(topo, { target: topo.vip6, port: 53, proto: 'tcp', count: 2 * v6.length, sources: v6 });
      t.log('udp4', counts(udp4), 'tcp4', counts(tcp4));
      t.log('udp6', counts(udp6), 'tcp6', counts(tcp6));
      const w4 = checkSticky(t, [...udp4, ...tcp4], 'IPv4');
      checkSticky(t, [...udp6, ...tcp6], 'IPv6');
      // Every IPv4 backend got clients (40 clients over 3 backends).
      t.deepEqual([...new Set(w4.values())].sort(), topo.backends.map((b) => `${b.v4}:53`).sort());
      t.true(tcp6.every((r) => r.backend?.startsWith('[2001:db8:2::') === true));

      // What the balancer saw: every packet to the VIP went through the service's chain, and no reply came back.
      // A straggler (a delayed ACK, a retransmitted FIN) may arrive between two readings: read the watch before and
      // after the status until no packet came in between (bounded by count), so both counters cover the same packets.
      let st: Status | undefined;
      let w = await seen();
      for (let i = 0; i < 30; i++) {
        st = JSON.parse((await nftlb(topo, ['status', '-c', file, '--json'], env)).stdout) as Status;
        const after = await seen();
        if (after.toVip === w.toVip && after.fromVip === w.fromVip) break;
        w = after;
        await new Promise((r) => setTimeout(r, 200));
      }
      t.is(st!.live, 'matches');
      const svc = st!.services[0]!;
      t.log(`balancer: ${svc.packets} packets (${svc.bytes} bytes) forwarded; watch: ${JSON.stringify(w)}`);
      t.is(w.fromVip, 0, 'no reply of a backend reached the balancer');
      t.is(svc.packets, w.toVip, "the service's counter saw every packet of the clients' direction");
      // Each UDP query is one packet; a TCP connection at least its SYN and the ACK of the handshake.
      t.true(svc.packets! >= udp4.length + udp6.length + 2 * (tcp4.length + tcp6.length));
      t.true(svc.backends.every((b) => b.connections === null));
      // No conntrack entry for the forwarded flows: the balancer kept no state.
      const ct = await topo.exec(topo.lb, ['conntrack', '-L', '-p', 'udp', '--dport', '53'], { reject: false });
      t.notRegex(ct.stdout, /dport=53/);
    });
  },
);
