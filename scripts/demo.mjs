// `make demo`: renders an embedded example with the built nftlb; as root, also loads it with `nftlb render | nft -f -`
// inside private network namespaces (client -> lb -> 3 backends) and shows where 30 connections went.
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nftlb = join(root, 'dist/nftlb.mjs');
const example = `# Three TCP backends behind one VIP port, plus a weighted UDP DNS pair.
table: nftlb
services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    protocol: tcp
    port: 80
    scheduler: round-robin
    nat: masquerade
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
      - { address: 198.51.100.4, port: 8080 }
      - { address: "2001:db8:2::2", port: 8080 }
  - name: dns
    vip: 203.0.113.1
    protocol: udp
    port: 53
    scheduler: random
    backends:
      - { address: 198.51.100.2, port: 8053, weight: 2 }
      - { address: 198.51.100.3, port: 8053, weight: 1 }
`;

const dir = mkdtempSync(join(tmpdir(), 'nftlb-demo-'));
const cfg = join(dir, 'nftlb.yaml');
writeFileSync(cfg, example);
try {
  console.log(`== config (${cfg})\n${example}`);
  const rendered = await execa(process.execPath, [nftlb, 'render', '-c', cfg]);
  console.log(`== nftlb render -c ${cfg}\n${rendered.stdout}\n`);

  if (process.getuid?.() !== 0) {
    console.log('== not root: skipping the live part (load into a private namespace and send 30 connections).');
    process.exit(0);
  }
  const { withTopology } = await import('../dist/test/kernel/support/topology.js');
  const { startBackends, listenersFor } = await import('../dist/test/kernel/support/backends.js');
  const { probe, tallyObject } = await import('../dist/test/kernel/support/client.js');
  await withTopology({ backends4: 3, backends6: 1, clients: 4 }, async (topo) => {
    await startBackends(topo, listenersFor([...topo.backendV4, ...topo.backendV6], [8080], [8053]));
    // Exactly what an operator runs, inside the LB namespace.
    await topo.exec('lb', ['sh', '-c', `'${process.execPath}' '${nftlb}' render -c '${cfg}' | nft -f -`]);
    for (const [what, opts] of [
      ['30 TCP connections to 203.0.113.1:80 (round robin)', { target: topo.vip4, port: 80, proto: 'tcp', count: 30 }],
      [
        '30 TCP connections to [2001:db8:1::1]:80 (one IPv6 backend)',
        { target: topo.vip6, port: 80, proto: 'tcp', count: 30 },
      ],
      [
        '30 UDP queries to 203.0.113.1:53 (random, weights 2:1)',
        { target: topo.vip4, port: 53, proto: 'udp', count: 30 },
      ],
    ]) {
      const results = await probe(topo, opts);
      const spread = tallyObject(results);
      console.log(`== ${what}: backend <- connections (peer seen by the backend: ${results[0]?.peer})`);
      for (const [be, n] of Object.entries(spread)) console.log(`   ${be.padEnd(24)} ${n}`);
    }
    const counters = await topo.exec('lb', ['nft', 'list', 'chain', 'inet', 'nftlb', 'svc_web_v4']);
    console.log(`== live service chain in the LB namespace:\n${counters.stdout}`);
  });
  console.log('== namespaces deleted; the host ruleset was never touched.');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
