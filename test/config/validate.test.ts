import test from 'ava';
import { checkConfig } from '../../src/config/read.js';

const codes = (file: string, text: string): string[] =>
  checkConfig(file, text).diagnostics.map((d) => `${d.line}:${d.path}:${d.code}`);

test('YAML and JSON give the same diagnostics for the same mistake', (t) => {
  const yaml =
    'services:\n  - name: web\n    vip: 203.0.113.1\n    port: 80\n    backends:\n      - { address: 198.51.100.300 }\n';
  const json =
    '{"services": [\n{"name": "web",\n "vip": "203.0.113.1",\n "port": 80,\n "backends": [\n {"address": "198.51.100.300"}]}]}\n';
  t.deepEqual(codes('a.yaml', yaml), ['6:/services/0/backends/0/address:address.invalid']);
  t.deepEqual(codes('a.json', json), ['6:/services/0/backends/0/address:address.invalid']);
});

test('every problem is reported at once', (t) => {
  const yaml = [
    'services:',
    '  - name: a',
    '    vip: 203.0.113.1',
    '    port: 80',
    '    backends: []',
    '  - name: a',
    '    vip: 203.0.113.1',
    '    port: 80',
    '    backends: [{ address: "2001:db8:2::2" }]',
  ].join('\n');
  const found = codes('x.yaml', yaml);
  for (const code of ['service.no-backends', 'service.duplicate-name', 'service.listener-overlap', 'family.mismatch']) {
    t.true(
      found.some((c) => c.endsWith(`:${code}`)),
      `${code} in ${found.join(', ')}`,
    );
  }
});

test('hex seeds from YAML and strings from JSON mean the same', (t) => {
  const y = checkConfig(
    'a.yaml',
    'services: [{name: m, vip: 203.0.113.1, port: 1, scheduler: source-hash, hash: {seed: 0x5eed}, backends: [{address: 198.51.100.2}, {address: 198.51.100.3}]}]',
  );
  const j = checkConfig(
    'a.json',
    '{"services": [{"name": "m", "vip": "203.0.113.1", "port": 1, "scheduler": "source-hash", "hash": {"seed": "0x5EED"}, "backends": [{"address": "198.51.100.2"}, {"address": "198.51.100.3"}]}]}',
  );
  const seed = (c: typeof y) => (c.model?.services[0]?.scheduler as { seed: number }).seed;
  t.is(seed(y), 0x5eed);
  t.is(seed(j), 0x5eed);
});

test('defaults are filled', (t) => {
  const c = checkConfig(
    'a.yaml',
    'services: [{name: m, vip: 203.0.113.1, port: 80, backends: [{address: 198.51.100.2}]}]',
  );
  const s = c.model!.services[0]!;
  t.is(c.model!.table, 'nftlb');
  t.deepEqual(s.protocols, ['tcp']);
  t.is(s.scheduler.kind, 'round-robin');
  t.is(s.nat.kind, 'masquerade');
  t.is(s.backends[0]!.weight, 1);
  t.is(s.backends[0]!.state, 'up');
});

test('a VIP or a backend that is no one host (unspecified, multicast, broadcast) is refused where it is written', (t) => {
  const service = (vip: string, backend: string): string =>
    `services:\n  - name: web\n    vip: ${vip}\n    port: 80\n    backends:\n      - address: ${backend}\n`;
  for (const vip of ['0.0.0.0', '255.255.255.255', '224.0.0.1', '239.255.255.255', '"::"', '"ff02::1"', '"FF05::2"']) {
    const backend = vip.includes(':') ? '"2001:db8::2"' : '198.51.100.2';
    t.deepEqual(codes('a.yaml', service(vip, backend)), ['3:/services/0/vip:address.not-unicast'], vip);
  }
  t.deepEqual(codes('a.yaml', service('203.0.113.1', '0.0.0.0')), [
    '6:/services/0/backends/0/address:address.not-unicast',
  ]);
  t.deepEqual(codes('a.yaml', service('[203.0.113.1, 224.0.0.9]', '198.51.100.2')), [
    '3:/services/0/vip/1:address.not-unicast',
  ]);
  // Unicast at the edges of those ranges, and an IPv6 group 00ff (not ff00::/8), are taken.
  for (const [vip, backend] of [
    ['223.255.255.255', '240.0.0.1'],
    ['"ff::1"', '"2001:db8::2"'],
  ] as const)
    t.deepEqual(codes('a.yaml', service(vip, backend)), [], vip);
  const d = checkConfig('a.yaml', service('0.0.0.0', '198.51.100.2')).diagnostics[0];
  t.regex(d?.message ?? '', /^VIP 0\.0\.0\.0 is the unspecified address, .*; give the address clients connect to$/);
});
