// The DSR netdev table and its incremental updates (the rendered tables themselves are golden fixtures under
// fixtures/dsr/): a health change of a DSR service touches only the netdev table, in the same transaction as NAT ones.
import test from 'ava';
import { incrementalUpdate } from '../../src/nft/delta.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const m = modelOf(`
table: hc
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
  - name: a
    vip: 203.0.113.2
    port: 53
    protocol: udp
    forwarding: dsr
    interface: eth0
    scheduler: source-hash
    health: { type: tcp }
    backends:
      - { address: 198.51.100.4 }
      - { address: 198.51.100.5 }
  - name: b
    vip: 203.0.113.3
    port: 80
    forwarding: dsr
    interface: eth1
    scheduler: source-hash
    on-empty: drop
    health: { type: tcp }
    backends:
      - { address: 198.51.100.6 }
`);
const overlay = (o: Record<string, 'up' | 'down'>) => ({ health: new Map(Object.entries(o)) });

test('a config with DSR services renders the inet table without them and a netdev table with them', (t) => {
  const s = renderNftScript(plan(m));
  t.deepEqual(s.tables, [
    { family: 'inet', name: 'hc' },
    { family: 'netdev', name: 'hc_dsr' },
  ]);
  const [inet, netdev] = s.text.split('table netdev hc_dsr {}\n');
  t.regex(inet!, /svc_web_v4/);
  t.notRegex(inet!, /svc_a_|svc_b_|203\.0\.113\.2/);
  t.regex(netdev!, /^delete table netdev hc_dsr\ntable netdev hc_dsr \{\n\tmap services4 \{/);
  t.regex(netdev!, /\n\tcomment "nftlb fingerprint [0-9a-f]{32}"\n\}\n$/);
  t.regex(
    netdev!,
    /chain svc_a_v4 \{\n\t\tcounter meta mark set jhash ip saddr mod 2 seed 0x[0-9a-f]{8} offset 3 goto fwd_0\n/,
  );
  t.regex(netdev!, /type filter hook ingress device "eth1" priority filter; policy accept;/);
  // Each table carries it twice: in its comment and in its fingerprint chain.
  const fps = [...s.text.matchAll(/comment "nftlb fingerprint ([0-9a-f]+)"/g)].map((m) => m[1]);
  t.is(fps.length, 4);
  t.is(new Set(fps).size, 1, 'both tables carry the one fingerprint');
});

test('a DSR backend down rewrites only its chain in the netdev table, with the fwd chain of its interface', (t) => {
  const u = incrementalUpdate(plan(m), plan(m, overlay({ 'a/198.51.100.4:53': 'down' })));
  t.deepEqual(u.services, ['a']);
  t.is(
    u.script,
    [
      'add table inet hc',
      'flush chain netdev hc_dsr svc_a_v4',
      'add chain netdev hc_dsr svc_a_v4 {',
      '\tcounter meta mark set 4 goto fwd_0',
      '}',
      '',
    ].join('\n'),
  );
});

test('a DSR pool that empties keeps its listener with the on-empty verdict; NAT and DSR changes go in one script', (t) => {
  const u = incrementalUpdate(
    plan(m),
    plan(m, overlay({ 'b/198.51.100.6:80': 'down', 'web/198.51.100.2:80': 'down' })),
  );
  t.deepEqual(u.services, ['web', 'b']);
  t.is(
    u.script,
    [
      'add table inet hc',
      'delete element netdev hc_dsr services4 { 203.0.113.3 . tcp . 80 }',
      'flush chain inet hc svc_web_v4',
      'add chain inet hc svc_web_v4 {',
      '\tcounter ct mark set numgen random mod 1 offset 2',
      '}',
      'delete chain netdev hc_dsr svc_b_v4',
      'add map netdev hc_dsr services4 { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 203.0.113.3 . tcp . 80 : drop } }',
      '',
    ].join('\n'),
  );
  // And back: the listener goes to the service's chain again, the chain is added first.
  const back = incrementalUpdate(plan(m, overlay({ 'b/198.51.100.6:80': 'down' })), plan(m));
  t.regex(back.script ?? '', /add chain netdev hc_dsr svc_b_v4 \{\n\tcounter meta mark set 5 goto fwd_1\n\}\n/);
  t.regex(back.script ?? '', /elements = \{ 203\.0\.113\.3 \. tcp \. 80 : goto svc_b_v4 \}/);
});
