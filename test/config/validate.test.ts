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
