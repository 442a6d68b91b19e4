import test from 'ava';
import type { Chain, SetDecl, TableRef } from '../../src/nft/ast.js';
import { listArgs, renderCommand, renderCommands, type Command } from '../../src/nft/commands.js';
import { ident } from '../../src/nft/names.js';

const inet: TableRef = { family: 'inet', name: ident('lb') };
const netdev: TableRef = { family: 'netdev', name: ident('lb_dsr') };

const affinity: SetDecl = {
  kind: 'map',
  name: ident('aff4'),
  key: ['ipv4_addr'],
  value: ['mark'],
  flags: ['dynamic', 'timeout'],
  timeout: 300,
  size: 65536,
  elements: [],
};

const cases: [string, Command, string][] = [
  ['add table', { kind: 'table', verb: 'add', table: inet }, 'add table inet lb'],
  ['delete table', { kind: 'table', verb: 'delete', table: inet }, 'delete table inet lb'],
  ['flush table', { kind: 'table', verb: 'flush', table: netdev }, 'flush table netdev lb_dsr'],
  // nft 1.0.6 has no `destroy`: an empty add (a no-op on an existing table) then the delete.
  ['destroy table', { kind: 'table', verb: 'destroy', table: inet }, 'table inet lb {}\ndelete table inet lb'],
  [
    'add empty chain',
    { kind: 'chain', verb: 'add', table: inet, chain: { name: ident('health_0badf00d') } },
    'add chain inet lb health_0badf00d',
  ],
  ['flush chain', { kind: 'chain', verb: 'flush', table: inet, chain: { name: ident('x') } }, 'flush chain inet lb x'],
  [
    'delete chain',
    { kind: 'chain', verb: 'delete', table: inet, chain: { name: ident('x') } },
    'delete chain inet lb x',
  ],
  [
    'destroy chain',
    { kind: 'chain', verb: 'destroy', table: inet, chain: { name: ident('x') } },
    'add chain inet lb x\ndelete chain inet lb x',
  ],
  [
    'add a map with its dynamic and timeout flags, timeout and size',
    { kind: 'set', verb: 'add', table: inet, set: affinity },
    'add map inet lb aff4 { type ipv4_addr : mark; size 65536; flags dynamic,timeout; timeout 300s; }',
  ],
  [
    'add to an existing map without its size, with elements (timeouts too)',
    {
      kind: 'set',
      verb: 'add',
      table: inet,
      set: { ...affinity, elements: [{ key: '203.0.113.7', value: '3', timeout: 300, expires: 120 }] },
      withoutSize: true,
    },
    'add map inet lb aff4 { type ipv4_addr : mark; flags dynamic,timeout; timeout 300s; elements = { 203.0.113.7 timeout 300s expires 120s : 3 } }',
  ],
  ['flush map', { kind: 'set', verb: 'flush', table: inet, set: affinity }, 'flush map inet lb aff4'],
  [
    'destroy map',
    { kind: 'set', verb: 'destroy', table: inet, set: affinity },
    'add map inet lb aff4 { type ipv4_addr : mark; flags dynamic,timeout; timeout 300s; }\ndelete map inet lb aff4',
  ],
  [
    'delete elements by key',
    {
      kind: 'elements',
      verb: 'delete',
      table: inet,
      set: ident('aff4'),
      elements: [{ key: '203.0.113.7', value: '3' }, { key: '203.0.113.8' }],
    },
    'delete element inet lb aff4 { 203.0.113.7, 203.0.113.8 }',
  ],
  [
    'add elements',
    { kind: 'elements', verb: 'add', table: inet, set: ident('slots'), elements: [{ key: '1048576', value: '2' }] },
    'add element inet lb slots { 1048576 : 2 }',
  ],
  [
    'add rule',
    {
      kind: 'rule',
      table: inet,
      chain: ident('c'),
      rule: { stmts: [{ kind: 'counter' }, { kind: 'verdict', verdict: { kind: 'accept' } }] },
    },
    'add rule inet lb c counter accept',
  ],
];

for (const [name, c, text] of cases) test(`renders ${name}`, (t) => t.is(renderCommand(c), text));

const ingress: Chain = {
  name: ident('ingress'),
  hook: { type: 'filter', hook: 'ingress', device: 'eth1', priority: 0, priorityOffset: 0, policy: 'accept' },
  rules: [{ stmts: [{ kind: 'counter' }] }],
};

test('a chain with rules or a hook is added as a block; a netdev ingress hook names its device', (t) => {
  t.is(
    renderCommand({ kind: 'chain', verb: 'add', table: netdev, chain: ingress }),
    'add chain netdev lb_dsr ingress {\n\ttype filter hook ingress device "eth1" priority 0; policy accept;\n\tcounter\n}',
  );
});

test('a table block in any family, with its comment, sets and chains', (t) => {
  const text = renderCommand({
    kind: 'table-block',
    table: { ...netdev, comment: 'nftlb', sets: [affinity], chains: [ingress] },
  });
  t.is(
    text,
    [
      'table netdev lb_dsr {',
      '\tcomment "nftlb"',
      '',
      '\tmap aff4 {',
      '\t\ttype ipv4_addr : mark',
      '\t\tsize 65536',
      '\t\tflags dynamic,timeout',
      '\t\ttimeout 300s',
      '\t}',
      '',
      '\tchain ingress {',
      '\t\ttype filter hook ingress device "eth1" priority 0; policy accept;',
      '\t\tcounter',
      '\t}',
      '}',
    ].join('\n'),
  );
});

test('a script is its commands, one per line, in order', (t) => {
  t.is(
    renderCommands([
      { kind: 'table', verb: 'add', table: inet },
      { kind: 'chain', verb: 'flush', table: inet, chain: { name: ident('x') } },
    ]),
    'add table inet lb\nflush chain inet lb x\n',
  );
});

test('listings are argv, terse or JSON', (t) => {
  t.deepEqual(listArgs({ table: inet, terse: true }), ['-t', 'list', 'table', 'inet', 'lb']);
  t.deepEqual(listArgs({ table: netdev, json: true }), ['-j', 'list', 'table', 'netdev', 'lb_dsr']);
});
