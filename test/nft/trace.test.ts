// The trace objects and the reading of `nft monitor`, against output recorded from nft 1.0.6 on kernel 6.18 (in
// namespaces, fixtures/trace/): the install's echo, a table listing with handles, and the monitor lines of five
// connections (two round robin, a persistent client's new and kept connection, one to a service with no backend up).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig } from '../../src/config/read.js';
import type { TableRef } from '../../src/nft/ast.js';
import { renderCommand, renderCommands } from '../../src/nft/commands.js';
import { ident } from '../../src/nft/names.js';
import { TraceAssembler } from '../../src/nft/trace-events.js';
import {
  holdsTrace,
  markBit,
  markBits,
  traceInstall,
  traceObjects,
  traceProbe,
  traceRemoval,
} from '../../src/nft/trace.js';
import { plan } from '../../src/plan/plan.js';
import { reloadInPlace } from '../../src/nft/in-place.js';
import { FIXTURES } from '../support/fixtures.js';

const table: TableRef = { family: 'inet', name: ident('nftlb') };
const recorded = (name: string): string => readFileSync(join(FIXTURES, 'trace', name), 'utf8');

const CONFIG = `
services:
  - name: web
    vip: [203.0.113.1, "2001:db8:1::1"]
    port: [80, "8000-8010"]
    protocol: [tcp, udp]
    backends: [{ address: 198.51.100.2 }, { address: "2001:db8:2::2" }]
  - name: mail
    vip: 203.0.113.1
    port: 25
    persistence: { netmask: 24 }
    backends: [{ address: 198.51.100.2 }, { address: 198.51.100.3 }]
`;
const p = plan(checkConfig('c.yaml', CONFIG).model!);

test('traceInstall: trace chains at mangle and after source NAT, the owner in a comment, jumps first in pick and in the persistence new chains', (t) => {
  const script = renderCommands(traceInstall(p, table, {}, { pid: 4242, start: 777 }));
  t.regex(
    script,
    /^add chain inet nftlb trace_pre \{\n\ttype filter hook prerouting priority -150; policy accept;\n\tcomment "nftlb trace pid 4242 start 777"\n/m,
  );
  t.regex(script, /type filter hook output priority -150; policy accept;/);
  t.regex(
    script,
    /add chain inet nftlb trace_post \{\n\ttype filter hook postrouting priority 101; policy accept;\n\}/,
  );
  t.regex(script, /add chain inet nftlb trace_in \{\n\ttype filter hook input priority 101; policy accept;\n\}/);
  // Every listener of every service, per family; both protocols, ranges as ranges.
  t.regex(
    script,
    /\tct state new ip daddr \. meta l4proto \. th dport \{ 203\.0\.113\.1 \. tcp \. 80, 203\.0\.113\.1 \. tcp \. 8000-8010, 203\.0\.113\.1 \. udp \. 80, 203\.0\.113\.1 \. udp \. 8000-8010, 203\.0\.113\.1 \. tcp \. 25 \} meta nftrace set 1\n/,
  );
  t.regex(
    script,
    /\tct state new ip6 daddr \. meta l4proto \. th dport \{ 2001:db8:1::1 \. tcp \. 80, .* \} meta nftrace set 1\n/,
  );
  t.is(script.match(/\tct mark & 0x[0-9a-f]{8} 0x[0-9a-f]{8}\n/g)?.length, 32);
  t.regex(script, /^insert rule inet nftlb pick jump trace_mark$/m);
  t.regex(script, /^insert rule inet nftlb persist_v4_m24_t300_new jump trace_mark$/m);

  // Filters: one service, one client (its family only); the jumps then follow the client alone.
  const mail = p.services.find((s) => s.name === 'mail')!;
  const one = renderCommands(
    traceInstall(p, table, { service: mail, client: { family: 4, text: '203.0.113.0/24' } }, { pid: 1, start: 2 }),
  );
  t.regex(
    one,
    /\tct state new ip saddr 203\.0\.113\.0\/24 ip daddr \. meta l4proto \. th dport \{ 203\.0\.113\.1 \. tcp \. 25 \} meta nftrace set 1\n/,
  );
  t.notRegex(one, /ip6 daddr/);
  t.regex(one, /^insert rule inet nftlb pick ip saddr 203\.0\.113\.0\/24 jump trace_mark$/m);
  const v6only = renderCommands(
    traceInstall(p, table, { service: mail, client: { family: 6, text: '2001:db8:1::/64' } }, { pid: 1, start: 2 }),
  );
  t.notRegex(v6only, /nftrace/, 'mail has no IPv6 listener: nothing to trace');
  t.is(renderCommands(traceProbe(table)), 'add chain inet nftlb trace_probe\ndelete chain inet nftlb trace_probe\n');
});

test('markBits: every trace_mark rule of the recorded echo, the top bit in its prefix form included', (t) => {
  const bits = markBits(recorded('install-echo.txt'));
  t.is(bits.size, 32);
  t.deepEqual(
    [...bits.values()].sort((a, b) => a - b),
    Array.from({ length: 32 }, (_, i) => 2 ** i),
  );
  t.is(bits.get(107), 0x80000000);
  t.is(markBit('ct mark 0x80000000/1'), 0x80000000);
  t.is(markBit('ct mark & 0x00000004 == 0x00000004'), 4);
  t.is(markBit('ct mark set ct mark map @slots'), undefined);
});

test('traceObjects and traceRemoval: the recorded listing yields the jumps by handle and the chains, and the owner', (t) => {
  const listing = recorded('listing-handles.txt');
  const o = traceObjects(listing)!;
  t.deepEqual(o.owner, { pid: 4242, start: 777 });
  t.deepEqual(o.jumps, [
    { chain: ident('pick'), handle: 116 },
    { chain: ident('persist_v4_m32_t300_new'), handle: 117 },
  ]);
  t.deepEqual([...o.chains].sort(), ['trace_in', 'trace_mark', 'trace_out', 'trace_post', 'trace_pre']);
  t.true(holdsTrace(listing));
  t.deepEqual(traceRemoval(table, o).map(renderCommand), [
    'delete rule inet nftlb pick handle 116',
    'delete rule inet nftlb persist_v4_m32_t300_new handle 117',
    ...o.chains.map((c) => `delete chain inet nftlb ${c}`),
  ]);
  const without = listing.replace(/\tchain trace_[\s\S]*$/, '}\n').replace(/\t\tjump trace_mark # handle \d+\n/g, '');
  t.is(traceObjects(without), null);
  t.false(holdsTrace(without));
});

test('TraceAssembler: the recorded connections, each with service, selector value, backend and NAT address', (t) => {
  const a = new TraceAssembler(table, markBits(recorded('install-echo.txt')));
  const out = recorded('monitor.txt')
    .split('\n')
    .flatMap((l) => a.push(l, 0));
  t.deepEqual(a.end(), []);
  const summary = out.map((c) => ({
    service: c.service,
    client: c.client.address,
    vip: `${c.vip.address}:${c.vip.port} ${c.protocol}`,
    selector: c.selector,
    backend: c.backend === null ? null : `${c.backend.address}:${c.backend.port}`,
    nat: c.nat?.address ?? null,
    outcome: c.outcome,
    by: c.by,
  }));
  const web = {
    client: '203.0.113.10',
    vip: '203.0.113.1:80 tcp',
    nat: '198.51.100.1',
    outcome: 'forwarded',
    by: null,
  };
  const mail = { ...web, vip: '203.0.113.1:25 tcp' };
  const rr = 'numgen inc mod 3 offset 1048576';
  t.deepEqual(summary, [
    // Weighted round robin (1:2) picks slots: 0x100000 + position.
    {
      ...web,
      service: 'web',
      selector: { kind: 'scheduler', expression: rr, value: 0, mark: 0x100000 },
      backend: '198.51.100.3:8080',
    },
    {
      ...web,
      service: 'web',
      selector: { kind: 'scheduler', expression: rr, value: 1, mark: 0x100001 },
      backend: '198.51.100.2:8080',
    },
    // The client's first connection to a persistent service: the scheduler picks (equal weights: the backend id).
    {
      ...mail,
      service: 'mail',
      selector: { kind: 'scheduler', expression: 'numgen inc mod 2 offset 3', value: 0, mark: 3 },
      backend: '198.51.100.2:8080',
    },
    // Its second: the entry.
    { ...mail, service: 'mail', selector: { kind: 'persistence', mark: 3 }, backend: '198.51.100.2:8080' },
    // No backend up: refused before any service chain (the caller names the service from the listener).
    {
      ...web,
      vip: '203.0.113.1:26 tcp',
      service: null,
      selector: null,
      backend: null,
      nat: null,
      outcome: 'no-backend',
      by: 'inet nftlb guard_pre',
    },
  ]);
});

test('TraceAssembler: drops end a connection, idle ones are printed as far as they got, other packets are ignored', (t) => {
  const a = new TraceAssembler(table, new Map([[10, 1]]));
  const pkt =
    'packet: iif "lbc0" ip6 saddr 2001:db8:1::10 ip6 daddr 2001:db8:1::1 ip6 nexthdr udp udp sport 5353 udp dport 53 udp length 8';
  const lines = [
    `trace id 0000000a inet nftlb trace_pre ${pkt}`,
    'trace id 0000000a inet nftlb dispatch_pre rule jump dispatch (verdict jump dispatch)',
    'trace id 0000000a inet nftlb dispatch rule ip6 daddr . meta l4proto . th dport vmap @services6 (verdict goto svc_dns_v6)',
    'trace id 0000000a inet nftlb svc_dns_v6 rule counter packets 0 bytes 0 ct mark set 0x00000007 (verdict continue)',
    'trace id 0000000a inet nftlb svc_dns_v6 verdict continue ',
    'trace id 0000000a inet nftlb dispatch_pre rule goto pick (verdict goto pick)',
    'trace id 0000000a inet nftlb pick unknown rule handle 9 (verdict jump trace_mark)',
    'trace id 0000000a inet nftlb trace_mark unknown rule handle 10 (verdict continue)',
    'trace id 0000000a inet nftlb trace_mark rule ct mark & 0x00000002 == 0x00000002 (verdict continue)',
    'trace id 0000000a inet nftlb trace_mark rule ct mark & 0x00000004 == 0x00000004 (verdict continue)',
    'trace id 0000000a inet filter forward packet: iif "lbc0" oif "lbb0" ip6 saddr 2001:db8:1::10 ip6 daddr 2001:db8:2::2',
    'trace id 0000000a inet filter forward policy drop ',
  ];
  const [c] = lines.flatMap((l) => a.push(l, 0));
  t.like(c, {
    family: 6,
    protocol: 'udp',
    client: { address: '2001:db8:1::10', port: 5353 },
    vip: { address: '2001:db8:1::1', port: 53 },
    service: 'dns',
    selector: { kind: 'scheduler', expression: '0x00000007', value: 0, mark: 7 },
    outcome: 'dropped',
    by: 'inet filter forward',
  });
  // Events of packets that did not start in a trace chain of ours, and of other tables, start nothing.
  t.deepEqual(a.push('trace id 0000000b inet filter forward policy drop ', 0), []);
  t.deepEqual(a.push('trace id 0000000c inet nftlb nat_post rule ct status dnat masquerade (verdict accept)', 0), []);
  // A connection whose packet leaves by no chain of ours is printed when idle; one that never reached a service is not.
  a.push(`trace id 0000000d inet nftlb trace_pre ${pkt}`, 0);
  a.push('trace id 0000000d inet nftlb dispatch_pre rule x (verdict goto svc_dns_v6)', 0);
  a.push(`trace id 0000000e inet nftlb trace_pre ${pkt}`, 0);
  t.deepEqual(a.idle(1000, 500), []);
  t.deepEqual(
    a.idle(1000, 5000).map((x) => [x.traceId, x.service, x.outcome]),
    [['0000000d', 'dns', 'incomplete']],
  );
});

test('the in-place reload of a table with persistence deletes the trace objects, and keeps what the config declares', (t) => {
  // The config the recorded listing was loaded from.
  const recordedPlan = plan(
    checkConfig(
      'c.yaml',
      `forward: { policy: drop }
services:
  - { name: web, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2, port: 8080 }, { address: 198.51.100.3, port: 8080, weight: 2 }] }
  - { name: mail, vip: 203.0.113.1, port: 25, persistence: {}, backends: [{ address: 198.51.100.2, port: 8080 }, { address: 198.51.100.3, port: 8080 }] }
  - { name: empty, vip: 203.0.113.1, port: 26, backends: [{ address: 198.51.100.2, port: 8080, state: down }] }
`,
    ).model!,
  );
  // apply reads the terse listing without handles.
  const listing = recorded('listing-handles.txt').replace(/ # handle \d+/g, '');
  const inPlace = reloadInPlace(recordedPlan, listing)!;
  const preamble = inPlace.preamble.map(renderCommand);
  t.is(preamble[0], 'flush table inet nftlb');
  for (const c of ['trace_pre', 'trace_out', 'trace_mark', 'trace_post', 'trace_in'])
    t.true(preamble.includes(`delete chain inet nftlb ${c}`), c);
  // What the config still declares stays (emptied by the flush), trace's objects go.
  for (const c of ['forward_filter', 'pick']) t.false(preamble.includes(`delete chain inet nftlb ${c}`), c);
  t.true(preamble.includes('flush set inet nftlb forward_accept4'));
  // The listing was recorded when the filter's backend sets were keyed by backend id and address: a table of that
  // version is upgraded in place, its sets deleted and declared again with their new type (address alone).
  t.true(preamble.includes('delete set inet nftlb forward_backends4'));
  t.true(preamble.includes('delete set inet nftlb forward_backends6'));
  t.false(
    preamble.some((c) => c.includes('persist4 ')),
    'the entries stay',
  );
});
