import { deepStrictEqual } from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import type { Diagnostic } from '../../src/common/diagnostic.js';
import type { RawConfig } from '../../src/config/schema.js';
import { listenerOverlap } from '../../src/config/rules/listener-overlap.js';
import { checkConfig } from '../../src/config/read.js';
import type { Model, PortRange, Protocol, Service } from '../../src/model/types.js';

// A service reduced to what the rule reads: VIPs (as a list or one string), protocols and port ranges.
interface Listeners {
  readonly vips: readonly string[];
  readonly list: boolean;
  readonly protocols: readonly Protocol[];
  readonly ports: readonly PortRange[];
}

const portRange = fc
  .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 4 }), fc.boolean())
  .map(([first, len, single]): PortRange => ({ first, last: single ? first : first + len }));
const listenersArb: fc.Arbitrary<Listeners> = fc
  .record({
    vips: fc.array(fc.constantFrom('203.0.113.1', '203.0.113.2', '2001:db8::1'), { minLength: 1, maxLength: 3 }),
    list: fc.boolean(),
    protocols: fc.constantFrom<Protocol[]>(['tcp'], ['udp'], ['tcp', 'udp']),
    ports: fc.array(portRange, { minLength: 1, maxLength: 4 }),
  })
  .map((l) => (l.vips.length > 1 ? { ...l, list: true } : l));

function configOf(ls: readonly Listeners[]): { raw: RawConfig; model: Model } {
  const services = ls.map((l, i): Service => ({
    path: `/services/${i}`,
    name: `s${i % 4 === 3 ? 0 : i}`,
    vips: l.vips.map((text) => ({ family: text.includes(':') ? 6 : 4, text })),
    protocols: l.protocols,
    ports: l.ports,
    scheduler: { kind: 'round-robin' },
    nat: { kind: 'masquerade' },
    onEmpty: 'reject',
    quorum: 0,
    onDown: 'keep',
    limits: { overflow: 'reject', rate: undefined },
    backends: [],
  }));
  const raw = {
    services: ls.map((l, i) => ({
      name: `s${i}`,
      vip: l.list ? [...l.vips] : l.vips[0]!,
      port: 1,
      backends: [],
    })),
  } as unknown as RawConfig;
  return { raw, model: { table: 't', services } };
}

// The rule written the long way: every listener against every one taken before it, in order.
function reference(ls: readonly Listeners[], model: Model): Diagnostic[] {
  const out: Diagnostic[] = [];
  const taken: { vip: string; proto: string; first: number; last: number; owner: string }[] = [];
  ls.forEach((l, si) => {
    const s = model.services[si]!;
    l.vips.forEach((vip, i) => {
      if (l.vips.indexOf(vip) < i) {
        const path = l.list ? `${s.path}/vip/${i}` : `${s.path}/vip`;
        out.push({ path, code: 'service.duplicate-vip', message: `VIP ${vip} is listed twice`, severity: 'error' });
        return;
      }
      for (const proto of l.protocols) {
        for (const p of l.ports) {
          const clash = taken.find((t) => t.vip === vip && t.proto === proto && p.first <= t.last && t.first <= p.last);
          if (clash === undefined) {
            taken.push({ vip, proto, first: p.first, last: p.last, owner: s.name });
            continue;
          }
          const range = p.first === p.last ? `${p.first}` : `${p.first}-${p.last}`;
          const who = clash.owner === s.name ? 'another port entry of this service' : `service "${clash.owner}"`;
          const message = `${vip} ${proto} port ${range} overlaps ${who}`;
          out.push({ path: `${s.path}/port`, code: 'service.listener-overlap', message, severity: 'error' });
        }
      }
    });
  });
  return out;
}

test('property: listener overlaps are those of every listener checked against all taken before it', (t) => {
  let found = 0;
  fc.assert(
    fc.property(fc.array(listenersArb, { minLength: 1, maxLength: 8 }), (ls) => {
      const { raw, model } = configOf(ls);
      const got = listenerOverlap({ raw, model });
      deepStrictEqual(got, reference(ls, model));
      found += got.length;
    }),
    { numRuns: 500 },
  );
  t.true(found > 500, `${found} overlaps found`);
});

test('a range over many single ports reports the one taken first', (t) => {
  const ls: Listeners[] = [
    { vips: ['203.0.113.1'], list: false, protocols: ['tcp'], ports: [{ first: 9, last: 9 }] },
    { vips: ['203.0.113.1'], list: false, protocols: ['tcp'], ports: [{ first: 5, last: 5 }] },
    { vips: ['203.0.113.1'], list: false, protocols: ['tcp'], ports: [{ first: 1, last: 100 }] },
  ];
  const { raw, model } = configOf(ls);
  t.deepEqual(
    listenerOverlap({ raw, model }).map((d) => d.message),
    ['203.0.113.1 tcp port 1-100 overlaps service "s0"'],
  );
});

test('a config of more than 250,000 listeners is valid, with a warning on the service with the most', (t) => {
  const vips = Array.from({ length: 300 }, (_, i) => `198.18.${i >> 8}.${i & 255}`).join(', ');
  const ports = Array.from({ length: 1000 }, (_, i) => 2000 + i).join(', ');
  const text = `services:\n  - name: small\n    vip: 203.0.113.1\n    port: 80\n    backends: [{ address: 198.51.100.2 }]\n  - name: big\n    vip: [${vips}]\n    port: [${ports}]\n    backends: [{ address: 198.51.100.3 }]\n`;
  const r = checkConfig('c.yaml', text);
  t.not(r.model, undefined);
  t.deepEqual(
    r.diagnostics.map((d) => [d.code, d.path, d.severity]),
    [['service.many-listeners', '/services/1', 'warning']],
  );
  t.regex(r.diagnostics[0]!.message, /^the config has 300,001 listeners .*, 300,000 of them in this service/);
  const fewer = text.replace(/port: \[[^\]]*\]/, 'port: "2000-2999"');
  t.deepEqual(checkConfig('c.yaml', fewer).diagnostics, [], 'a range is one listener');
});
