import test from 'ava';
import { checkConfig } from '../../src/config/read.js';

const SERVICE = [
  'services:',
  '  - name: web',
  '    vip: [203.0.113.1, "2001:db8:1::1"]',
  '    port: 80',
  '    backends:',
  '      - { address: 198.51.100.21 }',
  '      - { address: "2001:db8:2::21" }',
];
const check = (lines: string[]) => checkConfig('c.yaml', lines.join('\n'));
const found = (lines: string[]): string[] =>
  check(lines).diagnostics.map((d) => `${d.line}:${d.severity === 'warning' ? 'w:' : ''}${d.code}`);

const VRRP = [
  'cluster:',
  '  mode: vrrp',
  '  vrrp: { id: 51, interface: eth0, backend-interface: eth1, sync-interface: eth2, snat: [198.51.100.254, "2001:db8:2::fe"] }',
  '  nodes:',
  '    - { name: lb1, priority: 150, sync-address: 198.18.3.1 }',
  '    - { name: lb2, priority: 100, sync-address: 198.18.3.2 }',
];

test('vrrp: masquerade becomes source NAT to the floating addresses; the model carries the section', (t) => {
  const c = check([...VRRP, ...SERVICE]);
  t.deepEqual(c.diagnostics, []);
  t.deepEqual(c.model?.services[0]?.nat, {
    kind: 'snat',
    addresses: [
      { family: 4, text: '198.51.100.254' },
      { family: 6, text: '2001:db8:2::fe' },
    ],
  });
  t.is(c.model?.cluster?.mode, 'vrrp');
  if (c.model?.cluster?.mode === 'vrrp') t.is(c.model.cluster.vrrp.preemptDelay, 5);
});

test('a config without cluster has no cluster key in its model', (t) => {
  t.false('cluster' in (check(SERVICE).model ?? {}));
});

test('vrrp: what each node and the section need, reported with their lines', (t) => {
  t.deepEqual(
    found([
      'cluster:',
      '  mode: vrrp',
      '  bgp: { asn: 64512 }',
      '  vrrp: { id: 51, interface: eth0, sync-interface: eth2, snat: 198.51.100.254 }',
      '  nodes:',
      '    - { name: lb1, asn: 64512 }',
      '    - { name: lb2, priority: 100, sync-address: "2001:db8:9::2" }',
      '    - { name: lb3, priority: 100, sync-address: 198.18.3.3 }',
      ...SERVICE,
    ]),
    [
      '3:cluster.unused',
      '6:cluster.vrrp-nodes',
      '6:cluster.unused',
      '6:cluster.priority',
      '6:cluster.sync-address',
      '10:w:cluster.vrrp-masquerade',
    ],
  );
  // Equal priorities are a warning, sync addresses of two families an error; an explicit fixed SNAT a warning.
  t.deepEqual(
    found([
      ...VRRP.slice(0, 4),
      '    - { name: lb1, priority: 100, sync-address: 198.18.3.1 }',
      '    - { name: lb2, priority: 100, sync-address: "2001:db8:3::2" }',
      ...SERVICE.slice(0, 4),
      '    nat: { snat: [198.51.100.9, "2001:db8:2::fe"] }',
      ...SERVICE.slice(4),
    ]),
    ['6:w:cluster.priority-equal', '6:cluster.sync-address', '11:w:cluster.vrrp-snat'],
  );
});

const ECMP = [
  'cluster:',
  '  mode: ecmp',
  '  bgp: { asn: 64512, peers: [{ address: 198.51.100.1, asn: 64513 }, { address: "2001:db8:2::1", asn: 64513 }] }',
  '  nodes:',
  '    - { name: lb1, address: [198.51.100.11, "2001:db8:2::11"] }',
  '    - { name: lb2, address: [198.51.100.12, "2001:db8:2::12"] }',
];

test('ecmp: schedulers the nodes cannot agree on are refused, NAT modes get warnings, a hash passes', (t) => {
  t.deepEqual(found([...ECMP, ...SERVICE]), ['8:cluster.scheduler', '8:w:cluster.ecmp-nat']);
  for (const s of ['random', 'symmetric-hash'])
    t.deepEqual(
      found([...ECMP, ...SERVICE.slice(0, 4), `    scheduler: ${s}`, ...SERVICE.slice(4)]),
      ['11:cluster.scheduler', '8:w:cluster.ecmp-nat'].sort(
        (a, b) => Number(a.split(':')[0]) - Number(b.split(':')[0]),
      ),
    );
  t.deepEqual(found([...ECMP, ...SERVICE.slice(0, 4), '    scheduler: maglev', '    nat: none', ...SERVICE.slice(4)]), [
    '12:w:cluster.ecmp-nat-none',
  ]);
  const dsr = [
    ...ECMP,
    ...SERVICE.slice(0, 4),
    '    scheduler: source-hash',
    '    forwarding: dsr',
    '    interface: eth0',
    '    on-empty: drop',
    ...SERVICE.slice(4),
  ];
  t.deepEqual(found(dsr), []);
  t.deepEqual(found(dsr.filter((l) => !l.includes('on-empty'))), ['8:w:cluster.ecmp-on-empty']);
});

test('ecmp: every node needs an ASN, a router id, a peer for each VIP family and an address for each peer', (t) => {
  t.deepEqual(
    found([
      'cluster:',
      '  mode: ecmp',
      '  bgp: { peers: [{ address: "2001:db8:2::1", asn: 64513 }] }',
      '  nodes:',
      '    - { name: lb1, address: "2001:db8:2::11", priority: 1 }',
      '    - { name: lb2, address: 198.51.100.12, asn: 64512, router-id: "2001:db8::1" }',
      ...SERVICE.slice(0, 4),
      '    scheduler: maglev',
      '    forwarding: dsr',
      '    interface: eth0',
      '    on-empty: drop',
      ...SERVICE.slice(4),
    ]),
    [
      '5:cluster.unused',
      '5:cluster.asn',
      '5:cluster.router-id',
      '5:cluster.vip-family',
      '6:cluster.router-id',
      '6:cluster.vip-family',
      '6:cluster.peer-family',
    ],
  );
});

test('a schema mistake in the cluster section names the key and what was expected', (t) => {
  const d = check([
    ...ECMP.slice(0, 4),
    '    - { name: lb1, address: 198.51.100.11, asn: 70000000000 }',
    ...SERVICE,
  ]).diagnostics;
  t.true(
    d.some((x) => x.path === '/cluster/nodes/0/asn' && x.code === 'schema.maximum' && x.line === 5),
    JSON.stringify(d),
  );
  const m = check(['cluster: { mode: active, nodes: [] }', ...SERVICE]).diagnostics.map((x) => `${x.path}:${x.code}`);
  t.true(m.includes('/cluster/mode:schema.enum'), m.join());
  t.true(m.includes('/cluster/nodes:schema.min-items'), m.join());
});

test('a node name with a dot is a warning: no host takes it as its own without --node or NFTLB_NODE', (t) => {
  const dotted = VRRP.map((l) => l.replace('name: lb1,', 'name: lb1.example.com,'));
  const r = check([...dotted, ...SERVICE]);
  const d = r.diagnostics.find((x) => x.code === 'cluster.node-dotted');
  t.like(d, { line: 5, severity: 'warning', path: '/cluster/nodes/0/name' });
  t.regex(d!.message, /hostname up to the first dot \("lb1"\)/);
  t.not(r.model, undefined, 'a warning only');
  t.deepEqual(found([...VRRP, ...SERVICE]), []);
});
