import test from 'ava';
import { NftlbError } from '../../src/common/errors.js';
import { answer, parseClient, type Client } from '../../src/ops/which.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const svc = (
  extra: string[],
  backends = ['198.51.100.2', '198.51.100.3', '198.51.100.4'],
  vips = '[203.0.113.1, 203.0.113.2]',
): string =>
  [
    'services:',
    '  - name: web',
    `    vip: ${vips}`,
    '    port: [80, 443]',
    ...extra.map((l) => `    ${l}`),
    '    backends:',
    ...backends.map((b) => `      - { address: "${b}" }`),
  ].join('\n');

const clients = (...xs: string[]): Client[] => xs.map((x) => parseClient(x)!);
const ask = (yaml: string, o: { clients: Client[]; vip?: string; port?: number }) => {
  const m = modelOf(yaml);
  return answer(m, plan(m), { service: 'web', ...o });
};
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof NftlbError ? e.code : String(e);
  }
  return undefined;
};

test('CLIENT[:PORT] forms', (t) => {
  t.deepEqual(parseClient('203.0.113.10:40000'), {
    text: '203.0.113.10:40000',
    address: { family: 4, text: '203.0.113.10' },
    port: 40000,
  });
  t.is(parseClient('[2001:db8::10]:1')?.port, 1);
  t.is(parseClient('2001:db8::10')?.address.text, '2001:db8::10');
  t.is(parseClient('203.0.113.10:0'), undefined);
  t.is(parseClient('203.0.113.10:70000'), undefined);
  t.is(parseClient('web'), undefined);
});

test('source-hash: every client gets a backend of its family, the same on every call', (t) => {
  const yaml = svc(
    ['scheduler: source-hash'],
    ['198.51.100.2', '198.51.100.3', '2001:db8:2::2'],
    '[203.0.113.1, "2001:db8:1::1"]',
  );
  const r = ask(yaml, { clients: clients('198.18.0.1', '198.18.0.2', '2001:db8:3::1') });
  t.deepEqual(
    r.answers.map((x) => x.backend?.startsWith('[') ?? null),
    [false, false, true],
  );
  t.deepEqual(ask(yaml, { clients: clients('198.18.0.1', '198.18.0.2', '2001:db8:3::1') }), r);
  // Spread: 200 clients reach both IPv4 backends.
  const many = ask(yaml, { clients: Array.from({ length: 200 }, (_, i) => parseClient(`198.18.${i}.7`)!) });
  t.is(new Set(many.answers.map((x) => x.backend)).size, 2);
});

test('maglev: the answer is the Maglev table slot the hash picks; a backend down moves only its own clients', (t) => {
  const up = ask(svc(['scheduler: maglev', 'hash: { table-size: 1009 }']), {
    clients: Array.from({ length: 300 }, (_, i) => parseClient(`198.18.${i >> 8}.${i & 255}`)!),
  });
  t.true(up.answers.every((x) => x.slot !== null && x.slot < 1009));
  const down = ask(
    svc(['scheduler: maglev', 'hash: { table-size: 1009 }'], ['198.51.100.2', '198.51.100.3']).replace(
      '    backends:',
      '    backends:\n      - { address: "198.51.100.4", state: down }',
    ),
    { clients: up.answers.map((x) => parseClient(x.client)!) },
  );
  // Maglev moves the clients of the backend that left and (plain Maglev, NAT) only a few others.
  let moved = 0;
  up.answers.forEach((x, i) => {
    if (x.backend !== '198.51.100.4' && x.backend !== down.answers[i]!.backend) moved++;
  });
  t.true(moved < 30, `${moved} clients of staying backends moved`);
  t.false(down.answers.some((x) => x.backend === '198.51.100.4'));
});

test('what cannot be answered offline, and what is missing, are refused with the reason', (t) => {
  t.is(
    code(() => ask(svc([]), { clients: clients('198.18.0.1') })),
    'unsupported',
  );
  t.is(
    code(() => ask(svc(['scheduler: random']), { clients: clients('198.18.0.1') })),
    'unsupported',
  );
  t.is(
    code(() => ask(svc(['scheduler: symmetric-hash']), { clients: clients('198.18.0.1') })),
    'unsupported',
  );
  const ports = svc(['scheduler: source-hash', 'hash: { fields: [saddr, sport, daddr, dport] }']);
  t.is(
    code(() => ask(ports, { clients: clients('198.18.0.1') })),
    'usage',
    'sport hashed, no port',
  );
  t.is(
    code(() => ask(ports, { clients: clients('198.18.0.1:5000') })),
    'usage',
    'two VIPs, no --vip',
  );
  t.is(
    code(() => ask(ports, { clients: clients('198.18.0.1:5000'), vip: '203.0.113.1' })),
    'usage',
    'no --port',
  );
  t.is(
    code(() => ask(ports, { clients: clients('198.18.0.1:5000'), vip: '203.0.113.9', port: 80 })),
    'usage',
  );
  t.is(
    code(() => ask(ports, { clients: clients('198.18.0.1:5000'), vip: '203.0.113.1', port: 81 })),
    'usage',
  );
  const r = ask(ports, { clients: clients('198.18.0.1:5000'), vip: '203.0.113.2', port: 443 });
  t.is(r.answers[0]!.vip, '203.0.113.2');
  t.is(r.answers[0]!.dport, 443);
  t.is(
    code(() => ask(svc(['scheduler: maglev']), { clients: clients('2001:db8:3::1') })),
    'usage',
    'no IPv6 VIP',
  );
});

test('one backend up: its id without a slot; none up: no backend', (t) => {
  const one = svc(['scheduler: maglev'], ['198.51.100.2']);
  t.deepEqual(
    ask(one, { clients: clients('198.18.0.1') }).answers.map((x) => [x.backend, x.slot]),
    [['198.51.100.2', null]],
  );
  const none = one.replace('{ address: "198.51.100.2" }', '{ address: "198.51.100.2", state: down }');
  t.deepEqual(
    ask(none, { clients: clients('198.18.0.1') }).answers.map((x) => [x.backend, x.id]),
    [[null, null]],
  );
});
