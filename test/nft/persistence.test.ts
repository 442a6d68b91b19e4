import test from 'ava';
import type { Chain, SetView } from '../../src/nft/ast.js';
import { buildTable } from '../../src/nft/build.js';
import { incrementalUpdate } from '../../src/nft/delta.js';
import { MAX_MAP_SIZE } from '../../src/nft/persistence.js';
import { renderChain, setProperties } from '../../src/nft/render.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const m = modelOf(`
table: hc
services:
  - name: a
    vip: [203.0.113.1, "2001:db8:1::1"]
    port: 80
    health: { type: tcp }
    persistence: { netmask: 24, netmask6: 60, size: 100 }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
      - { address: 198.51.100.4, state: drain }
      - { address: "2001:db8:2::2" }
  - name: b
    vip: 203.0.113.2
    port: 80
    persistence: { netmask: 24, netmask6: 60, size: 50 }
    backends:
      - { address: 198.51.100.5 }
  - name: c
    vip: [203.0.113.3, 203.0.113.4]
    port: 80
    persistence: { key: saddr-daddr, timeout: 30 }
    backends:
      - { address: 198.51.100.6 }
  - name: plain
    vip: 203.0.113.5
    port: 80
    backends:
      - { address: 198.51.100.7 }
`);

const table = (p = plan(m)) => buildTable(p, '');
const set = (name: string, p = plan(m)): SetView => table(p).sets.find((s) => s.name === name)!;
const chain = (name: string, p = plan(m)): string =>
  renderChain(
    table(p).chains.find((c: Chain) => c.name === name)!,
    '',
  );

test('entry maps per family and key, sized to the sum of their services; IPv6 by its first 96 bits', (t) => {
  t.is(setProperties(set('persist4'), '; '), 'type mark . ipv4_addr : mark; size 150; flags dynamic,timeout; ');
  t.is(
    setProperties(set('persist4_daddr'), '; '),
    'type mark . ipv4_addr . ipv4_addr : mark; size 65536; flags dynamic,timeout; ',
  );
  t.is(setProperties(set('persist6'), '; '), 'typeof ct mark . @nh,64,96 : ct mark; size 100; flags dynamic,timeout; ');
  const huge = modelOf(
    `services:\n${Array.from({ length: 200 }, (_, i) => `  - { name: s${i}, vip: 203.0.113.1, port: ${i + 1}, persistence: { size: 16777216 }, backends: [{ address: 198.51.100.2 }] }`).join('\n')}\n`,
  );
  t.is(buildTable(plan(huge), '').sets.find((s) => s.name === 'persist4')!.size, MAX_MAP_SIZE);
});

test('persist_live lists the backends that take new connections; persist_tags every backend', (t) => {
  const p = plan(m);
  const a = p.services[0]!;
  const tag = (i: number): string => `0x${a.backends[i]!.tag!.toString(16).padStart(8, '0')}`;
  const live = [...set('persist_live', p).elements].map((e) => `${e.key}:${e.value}`);
  t.true(live.includes(`${tag(0)}:1`) && live.includes(`${tag(1)}:2`) && live.includes(`${tag(3)}:4`));
  t.false(
    live.some((x) => x.startsWith(tag(2))),
    'a drained backend takes no new connections',
  );
  t.is(live.length, 5, 'a: 3, b: 1, c: 1; plain has none');
  t.is([...set('persist_tags', p).elements].length, 6);
  const down = plan(m, { health: new Map([['a/198.51.100.2:80', 'down' as const]]) });
  t.false([...set('persist_live', down).elements].some((e) => e.key === tag(0)));
});

test('service chains write the mark and jump to the shared chains of their group', (t) => {
  const p = plan(m);
  const mark = `0x${p.services[0]!.persistence!.mark.toString(16).padStart(8, '0')}`;
  t.is(
    chain('svc_a_v4', p),
    [
      'chain svc_a_v4 {',
      `\tcounter ct mark set ${mark} jump persist_v4_m24_t300_get`,
      '\tct mark set numgen inc mod 2 offset 1 goto persist_v4_m24_t300_new',
      '}',
    ].join('\n'),
  );
  t.regex(chain('svc_b_v4', p), /jump persist_v4_m24_t300_get\n.*goto persist_v4_m24_t300_new/, 'b shares a group');
  t.is(
    chain('persist_v4_m24_t300_get', p),
    [
      'chain persist_v4_m24_t300_get {',
      '\tct mark set ct mark . (ip saddr & 255.255.255.0) map @persist4 update @persist4 { (ct mark & 0xfffff000) . (ip saddr & 255.255.255.0) timeout 300s : ct mark } ct mark set ct mark map @persist_live goto pick',
      '\tdelete @persist4 { (ct mark & 0xfffff000) . (ip saddr & 255.255.255.0) : ct mark }',
      '}',
    ].join('\n'),
  );
  t.regex(chain('persist_v6_m60_t300_get', p), /ct mark \. \(@nh,64,96 & 0xfffffffffffffff000000000\) map @persist6/);
  t.regex(
    chain('persist_v4d_m32_t30_new', p),
    /update @persist4_daddr \{ \(ct mark & 0xfffff000\) \. ip saddr \. ip daddr timeout 30s : ct mark \}/,
  );
  t.is(chain('svc_plain_v4', p), 'chain svc_plain_v4 {\n\tcounter ct mark set numgen random mod 1 offset 7\n}');
});

test('a health change rewrites persist_live with the pool, in the incremental update', (t) => {
  const u = incrementalUpdate(plan(m), plan(m, { health: new Map([['a/198.51.100.2:80', 'down' as const]]) }));
  t.deepEqual(u.services, ['a']);
  t.regex(u.script!, /^delete element inet hc persist_live \{ 0x[0-9a-f]{8} \}$/m);
  const back = incrementalUpdate(plan(m, { health: new Map([['a/198.51.100.2:80', 'down' as const]]) }), plan(m));
  t.regex(back.script!, /^add map inet hc persist_live \{ type mark : mark; elements = \{ 0x[0-9a-f]{8} : 1 \} \}$/m);
});

test('a config without persistence has no persistence objects', (t) => {
  const plain = modelOf(
    'services:\n  - { name: p, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n',
  );
  t.notRegex(renderNftScript(plan(plain)).text, /persist/);
});
