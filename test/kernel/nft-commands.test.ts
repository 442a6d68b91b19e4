// The nft command layer against the real nft 1.0.6 and kernel: every verb, family and object form it renders loads,
// `destroy` is idempotent (absent or present), a netdev table hooks a device's ingress beside the inet table, and a
// dynamic map with timeouts keeps the elements it was given.
import type { SetDecl, TableRef } from '../../src/nft/ast.js';
import { renderCommands, type Command } from '../../src/nft/commands.js';
import { ident } from '../../src/nft/names.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';

const inet: TableRef = { family: 'inet', name: ident('cmds') };
const netdev: TableRef = { family: 'netdev', name: ident('cmds_dsr') };
const ip6: TableRef = { family: 'ip6', name: ident('cmds6') };

const aff: SetDecl = {
  kind: 'map',
  name: ident('aff4'),
  key: ['ipv4_addr'],
  value: ['mark'],
  flags: ['dynamic', 'timeout'],
  timeout: 300,
  size: 1024,
  elements: [],
};

kernelTest(
  'nft commands: every rendered form loads; destroy is idempotent; netdev ingress and dynamic maps work',
  async (t) => {
    await withTopology({}, async (topo) => {
      const run = (cs: Command[]) => topo.nft(renderCommands(cs));
      // destroy of what is not there is no error, for tables, chains and maps.
      await run([
        { kind: 'table', verb: 'destroy', table: inet },
        { kind: 'table', verb: 'destroy', table: netdev },
        { kind: 'table', verb: 'add', table: inet },
        { kind: 'chain', verb: 'destroy', table: inet, chain: { name: ident('nochain') } },
        { kind: 'set', verb: 'destroy', table: inet, set: aff },
      ]);
      await run([
        { kind: 'set', verb: 'add', table: inet, set: aff },
        {
          kind: 'set',
          verb: 'add',
          table: inet,
          set: { ...aff, elements: [{ key: '203.0.113.7', value: '3', timeout: 300, expires: 120 }] },
          withoutSize: true,
        },
        { kind: 'chain', verb: 'add', table: inet, chain: { name: ident('guard') } },
        { kind: 'chain', verb: 'flush', table: inet, chain: { name: ident('guard') } },
        {
          kind: 'rule',
          table: inet,
          chain: ident('guard'),
          rule: { stmts: [{ kind: 'counter' }, { kind: 'verdict', verdict: { kind: 'accept' } }] },
        },
        {
          kind: 'table-block',
          table: {
            ...netdev,
            comment: 'nftlb test',
            sets: [],
            chains: [
              {
                name: ident('ingress'),
                hook: {
                  type: 'filter',
                  hook: 'ingress',
                  device: topo.lbClientIf,
                  priority: 0,
                  priorityOffset: 0,
                  policy: 'accept',
                },
                rules: [{ stmts: [{ kind: 'counter' }] }],
              },
            ],
          },
        },
        { kind: 'table', verb: 'add', table: ip6 },
        { kind: 'table', verb: 'flush', table: ip6 },
      ]);
      const listing = (await topo.exec(topo.lb, ['nft', 'list', 'ruleset'])).stdout;
      t.regex(
        listing,
        /table netdev cmds_dsr \{[\s\S]*type filter hook ingress device "lbc0" priority filter; policy accept;/,
      );
      t.regex(listing, /map aff4 \{\s*type ipv4_addr : mark\s*size 1024\s*flags dynamic,timeout\s*timeout 5m/);
      // The element timeout equals the map default, so nft lists only what is left of it.
      t.regex(listing, /elements = \{ 203\.0\.113\.7 (timeout 5m )?expires [0-9hms]+ : 0x00000003 \}/);
      t.regex(listing, /chain guard \{\s*counter packets 0 bytes 0 accept/);
      // Present objects are destroyed; the other tables stay.
      await run([
        { kind: 'set', verb: 'destroy', table: inet, set: aff },
        { kind: 'chain', verb: 'destroy', table: inet, chain: { name: ident('guard') } },
        { kind: 'table', verb: 'destroy', table: netdev },
      ]);
      const after = (await topo.exec(topo.lb, ['nft', 'list', 'ruleset'])).stdout;
      t.notRegex(after, /aff4|chain guard|cmds_dsr/);
      t.regex(after, /table inet cmds/);
      t.regex(after, /table ip6 cmds6/);
    });
  },
);
