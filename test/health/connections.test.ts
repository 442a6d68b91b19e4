// limit-overflow spill in user space: conntrack lines -> per-backend connection counts -> full / has room again.
import test from 'ava';
import fc from 'fast-check';
import {
  ConnectionCounts,
  parseCountLine,
  returnAt,
  spillTargets,
  type CountLine,
  type SpillTarget,
} from '../../src/health/connections.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

// Lines as conntrack 1.4.7 prints them (`conntrack -E -o id`, `conntrack -L -o id`), from a run in a namespace.
const EV = {
  new: '    [NEW] tcp      6 120 SYN_SENT src=203.0.113.50 dst=203.0.113.10 sport=36928 dport=80 [UNREPLIED] src=198.51.100.2 dst=203.0.113.50 sport=80 dport=36928 mark=1 id=1896597757',
  est: ' [UPDATE] tcp      6 432000 ESTABLISHED src=203.0.113.50 dst=203.0.113.10 sport=36928 dport=80 src=198.51.100.2 dst=203.0.113.50 sport=80 dport=36928 [ASSURED] mark=1 id=1896597757',
  timeWait:
    ' [UPDATE] tcp      6 120 TIME_WAIT src=203.0.113.50 dst=203.0.113.10 sport=36928 dport=80 src=198.51.100.2 dst=203.0.113.50 sport=80 dport=36928 [ASSURED] mark=1 id=1896597757',
  destroy:
    '[DESTROY] tcp      6 src=203.0.113.50 dst=203.0.113.10 sport=36928 dport=80 src=198.51.100.2 dst=203.0.113.50 sport=80 dport=36928 [ASSURED] mark=1 id=1896597757',
  udp: '    [NEW] udp      17 30 src=203.0.113.50 dst=203.0.113.10 sport=38243 dport=53 [UNREPLIED] src=198.51.100.3 dst=203.0.113.50 sport=53 dport=38243 mark=2 id=2723285965',
  listed:
    'tcp      6 431999 ESTABLISHED src=2001:db8::50 dst=2001:db8::10 sport=40000 dport=80 src=2001:db8::2 dst=2001:db8::50 sport=80 dport=40000 [ASSURED] mark=3 use=1 id=42',
};

test('parseCountLine reads events and listing lines; summaries and entries whose mark is no backend id are not lines', (t) => {
  t.like(parseCountLine(EV.new), {
    event: 'NEW',
    id: '1896597757',
    open: true,
    proto: 'tcp',
    dst: '203.0.113.10',
    dport: 80,
    replySrc: '198.51.100.2',
  });
  t.like(parseCountLine(EV.est), { event: 'UPDATE', open: true, replySport: 80 });
  t.like(parseCountLine(EV.timeWait), { event: 'UPDATE', open: false });
  t.like(parseCountLine(EV.destroy), { event: 'DESTROY', open: false });
  t.like(parseCountLine(EV.udp), { event: 'NEW', proto: 'udp', dport: 53, open: true, replySrc: '198.51.100.3' });
  t.like(parseCountLine(EV.listed), { event: undefined, id: '42', open: true, replySrc: '2001:db8::2' });
  t.is(parseCountLine('conntrack v1.4.7 (conntrack-tools): 7 flow events have been shown.'), null);
  t.is(parseCountLine('WARNING: We have hit ENOBUFS! We are losing events.'), null);
  t.is(parseCountLine(EV.new.replace(' mark=1', '')), null);
  t.is(parseCountLine(EV.new.replace(' mark=1', ' mark=1048576')), null, 'a slot, not a backend id');
});

const CONFIG = `
services:
  - name: web
    vip: [203.0.113.10, "2001:db8::10"]
    port: 80
    limit-overflow: spill
    backends:
      - { address: 198.51.100.2, max-connections: 2 }
      - { address: 198.51.100.3 }
      - { address: "2001:db8::2", max-connections: 4 }
      - { address: 198.51.100.4, max-connections: 9, state: down }
  - name: api
    vip: 203.0.113.11
    port: 81
    backends:
      - { address: 198.51.100.5, max-connections: 2 }
`;

test('spillTargets: backends with max-connections in spill services, by id, except those set down', (t) => {
  const m = modelOf(CONFIG);
  const targets = spillTargets(m, plan(m));
  t.deepEqual(
    [...targets.values()],
    [
      { key: 'web/198.51.100.2:80', id: 1, flows: flows(4, '198.51.100.2', ['203.0.113.10']), max: 2 },
      { key: 'web/[2001:db8::2]:80', id: 3, flows: flows(6, '2001:db8::2', ['2001:db8::10']), max: 4 },
    ],
  );
});

// What conntrack records of a backend's connections in a service on port 80/tcp (no port of its own: it keeps 80).
const flows = (family: 4 | 6, address: string, vips: string[]): SpillTarget['flows'] => ({
  family,
  address,
  port: 80,
  vips,
  protocols: ['tcp'],
  ports: [{ first: 80, last: 80 }],
});

// A connection from a client to web's VIP (IPv4 unless replySrc is IPv6), answered from replySrc:replySport.
const line = (id: string, open: boolean, replySrc = '198.51.100.2', replySport = 80, dst?: string): CountLine => ({
  event: open ? 'NEW' : 'DESTROY',
  id,
  open,
  proto: 'tcp',
  dst: dst ?? (replySrc.includes(':') ? '2001:db8::10' : '203.0.113.10'),
  dport: 80,
  replySrc,
  replySport,
});

test('a backend is full at max-connections and takes connections again at 3/4 of it', (t) => {
  const m = modelOf(CONFIG);
  const c = new ConnectionCounts(spillTargets(m, plan(m)));
  t.is(c.feed(line('a', true)), undefined);
  t.deepEqual(c.feed(line('b', true)), { key: 'web/198.51.100.2:80', full: true, count: 2, max: 2 });
  t.is(c.feed(parseCountLine(EV.est.replace('id=1896597757', 'id=b'))!), undefined, 'a state change of a counted one');
  t.deepEqual(c.fullKeys(), ['web/198.51.100.2:80']);
  t.deepEqual(c.feed(line('a', false)), { key: 'web/198.51.100.2:80', full: false, count: 1, max: 2 });
  t.is(c.feed(line('a', false)), undefined, 'a second end of the same connection');
  // Max 4 on the IPv6 backend: full at 4, still full at 3, back at 3 = floor(3 * 4 / 4).
  const v6 = (id: string, open: boolean): CountLine => line(id, open, '2001:db8::2');
  for (const id of ['p', 'q', 'r']) t.is(c.feed(v6(id, true)), undefined);
  t.like(c.feed(v6('s', true)), { full: true, count: 4 });
  t.like(c.feed(v6('p', false)), { full: false, count: 3 });
  t.is(returnAt(8), 6);
});

test('only connections to the service answered from the backend count', (t) => {
  const m = modelOf(CONFIG);
  const c = new ConnectionCounts(spillTargets(m, plan(m)));
  c.feed(line('x', true, '198.51.100.9'));
  c.feed(line('y', true, '198.51.100.2', 8080));
  c.feed(line('v', true, '198.51.100.2', 80, '203.0.113.99'));
  c.feed({ ...line('p', true), dport: 81 });
  c.feed({ ...line('u', true), proto: 'udp' });
  // The balancer's own connection to the backend (a health check): the backend is its destination, not a VIP.
  c.feed(line('h', true, '198.51.100.2', 80, '198.51.100.2'));
  c.feed(line('z', true, '198.51.100.5', 81, '203.0.113.11'));
  t.is(c.count(1), 0);
  t.is(c.count(5), 0, 'api is not a spill service');
});

test('a connection counts for the backend its reply comes from, whatever id its ct mark holds', (t) => {
  // After a reload that removed a backend above 198.51.100.2, its older connections carry its old id (2) as their
  // mark, and id 2 is now 198.51.100.3's.
  const m = modelOf(CONFIG);
  const c = new ConnectionCounts(spillTargets(m, plan(m)));
  c.feed(parseCountLine(EV.new.replace('mark=1', 'mark=2'))!);
  t.is(c.count(1), 1);
  // A listing: the same connection, and one of 198.51.100.3's that opened when its id was 1.
  const listed = [
    EV.est.replace('mark=1', 'mark=2'),
    EV.est.replace('src=198.51.100.2', 'src=198.51.100.3').replace('id=1896597757', 'id=7'),
  ];
  c.reset(listed.map((l) => parseCountLine(l)!));
  t.is(c.count(1), 1, 'the connection answered from 198.51.100.2, not the one marked 1');
});

test('reset: a listing replaces the counts, except for connections with events during the listing', (t) => {
  const m = modelOf(CONFIG);
  const c = new ConnectionCounts(spillTargets(m, plan(m)), ['web/[2001:db8::2]:80']);
  c.feed(line('old', true));
  // While the listing is read: 'gone' ends (its DESTROY is fed) and 'late' begins; the listing still shows 'gone'.
  c.feed(line('gone', false));
  c.feed(line('late', true));
  t.is(c.count(1), 2);
  const changes = c.reset([line('gone', true), line('n1', true), line('n2', true)], new Set(['gone', 'late']));
  t.is(c.count(1), 3, "n1, n2 and late: 'old' is not listed any more, 'gone' ended during the listing");
  t.deepEqual(c.fullKeys(), ['web/198.51.100.2:80']);
  t.deepEqual(changes, [{ key: 'web/[2001:db8::2]:80', full: false, count: 0, max: 4 }], 'full before and after');
});

test('property: counts follow the open connections and the full flag follows the thresholds', (t) => {
  const target: SpillTarget = {
    key: 's/198.51.100.2:80',
    id: 7,
    flows: flows(4, '198.51.100.2', ['203.0.113.10']),
    max: 5,
  };
  const events = fc.array(
    fc.record({
      conn: fc.integer({ min: 0, max: 9 }),
      open: fc.boolean(),
      ours: fc.constantFrom(true, true, true, false),
    }),
    { maxLength: 200 },
  );
  fc.assert(
    fc.property(events, (evs) => {
      const c = new ConnectionCounts(new Map([[7, target]]));
      const open = new Set<number>();
      let full = false;
      for (const e of evs) {
        const counted = e.ours;
        const l = line(String(e.conn), e.open, counted ? '198.51.100.2' : '198.51.100.99');
        const change = c.feed(l);
        if (counted && e.open) open.add(e.conn);
        else open.delete(e.conn);
        const was = full;
        if (!full && open.size >= target.max) full = true;
        else if (full && open.size <= returnAt(target.max)) full = false;
        if (c.count(7) !== open.size || c.isFull(7) !== full) return false;
        if ((change !== undefined) !== (was !== full)) return false;
      }
      return true;
    }),
  );
  t.pass();
});
