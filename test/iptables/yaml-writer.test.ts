// The import's YAML writer writes what `yaml`'s stringify writes, byte for byte, for the data a config is made of.
import test from 'ava';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { yamlText } from '../../src/iptables/import/yaml-writer.js';

const text = fc.oneof(
  fc.constantFrom(
    'web',
    'true',
    'True',
    'null',
    'NULL',
    'yes',
    'on',
    '~',
    '123',
    '0x10',
    '1e5',
    '.inf',
    '-',
    'a: b',
    '',
  ),
  fc.constantFrom(
    '203.0.113.1',
    '2001:db8::1',
    '::1',
    '::',
    '2001:db8::',
    '8000-8010',
    '0x1f',
    'a-',
    '-a',
    '#x',
    "'q",
    '"q',
  ),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,12}$/),
  fc.string({ maxLength: 8 }),
  fc.stringOf(fc.constantFrom('0', '1', 'a', 'f', ':', '.', '-', 'e', 'x'), { maxLength: 10 }),
);
const scalar = fc.oneof(text, fc.integer({ min: -5, max: 5_000_000 }));
const data = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(fc.oneof(scalar, tie('map')), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(fc.constantFrom('name', 'vip', 'port', 'table-size', 'on-empty'), text), tie('value'), {
    maxKeys: 4,
  }),
}));

test('the same text as stringify(data, { lineWidth: 0 }) for mappings of scalars, lists and mappings', (t) => {
  fc.assert(
    fc.property(data.map, (d) => {
      t.is(yamlText(d), stringify(d, { lineWidth: 0 }));
    }),
    { numRuns: 3000 },
  );
});

test('a config the import writes, literally', (t) => {
  const config = {
    services: [
      {
        name: '0x10',
        vip: ['203.0.113.1', '2001:db8::1'],
        protocol: ['tcp', 'udp'],
        port: [80, '8000-8010'],
        scheduler: 'maglev',
        hash: { fields: ['saddr', 'dport'], seed: '0xc175a3b8', 'table-size': 31 },
        nat: { snat: '198.51.100.200' },
        backends: [
          { address: '198.51.100.2', weight: 2 },
          { address: '::1', state: 'backup' },
        ],
      },
    ],
  };
  t.is(yamlText(config), stringify(config, { lineWidth: 0 }));
  t.is(yamlText({ services: [] }), 'services: []\n');
});
