// A backend's connections as conntrack records them: the filters on-down reset deletes with, and the index status and
// spill count with.
import test from 'ava';
import { FlowIndex, flowFilters, isBackendMark, serviceFlows, type BackendFlows } from '../../src/plan/flows.js';
import { plan } from '../../src/plan/plan.js';
import { SLOT_BASE } from '../../src/plan/types.js';
import { modelOf } from '../support/model.js';

const p = plan(
  modelOf(`services:
  - name: web
    vip: [203.0.113.1, 203.0.113.2, "2001:db8:1::1"]
    protocol: [tcp, udp]
    port: 8000
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: "2001:db8:2::2" }
  - name: list
    vip: 203.0.113.1
    port: [80, 443]
    backends:
      - { address: 198.51.100.2 }
  - name: range
    vip: 203.0.113.1
    port: 1000-1010
    backends:
      - { address: 198.51.100.2 }
`),
);
const [web, list, range] = p.services.map(serviceFlows) as [BackendFlows[], BackendFlows[], BackendFlows[]];

test('the filters of a backend: each VIP of its family, protocol and service port; its port', (t) => {
  const args = (f: ReturnType<typeof flowFilters>[number]): string =>
    `${f.family} ${f.proto} ${f.vip}:${f.dport ?? '*'} <- ${f.replySrc}:${f.replySport ?? '*'}`;
  t.deepEqual(flowFilters(web[0]!).map(args), [
    '4 tcp 203.0.113.1:8000 <- 198.51.100.2:8080',
    '4 udp 203.0.113.1:8000 <- 198.51.100.2:8080',
    '4 tcp 203.0.113.2:8000 <- 198.51.100.2:8080',
    '4 udp 203.0.113.2:8000 <- 198.51.100.2:8080',
  ]);
  t.deepEqual(flowFilters(web[1]!).map(args), [
    '6 tcp 2001:db8:1::1:8000 <- 2001:db8:2::2:8000',
    '6 udp 2001:db8:1::1:8000 <- 2001:db8:2::2:8000',
  ]);
  // Several ports: the backend keeps the one the client connected to.
  t.deepEqual(flowFilters(list[0]!).map(args), [
    '4 tcp 203.0.113.1:80 <- 198.51.100.2:*',
    '4 tcp 203.0.113.1:443 <- 198.51.100.2:*',
  ]);
  // conntrack matches one port, not a range: the filter leaves the port out.
  t.deepEqual(flowFilters(range[0]!).map(args), ['4 tcp 203.0.113.1:* <- 198.51.100.2:*']);
});

test('the index finds a connection by its VIP, protocol, port and reply source', (t) => {
  const index = new FlowIndex<string>();
  index.add(web[0]!, 'web .2');
  index.add(web[1]!, 'web v6');
  index.add(list[0]!, 'list .2');
  index.add(range[0]!, 'range .2');
  const conn = (proto: string, dst: string, dport: number, replySrc: string, replySport: number) => ({
    proto,
    dst,
    dport,
    replySrc,
    replySport,
  });
  t.is(index.find(conn('tcp', '203.0.113.2', 8000, '198.51.100.2', 8080)), 'web .2');
  t.is(index.find(conn('udp', '203.0.113.1', 8000, '198.51.100.2', 8080)), 'web .2');
  t.is(index.find(conn('tcp', '2001:db8:1::1', 8000, '2001:db8:2::2', 8000)), 'web v6');
  t.is(index.find(conn('tcp', '203.0.113.1', 443, '198.51.100.2', 443)), 'list .2');
  t.is(index.find(conn('tcp', '203.0.113.1', 1005, '198.51.100.2', 1005)), 'range .2');
  t.is(index.find(conn('tcp', '203.0.113.1', 8000, '198.51.100.2', 8000)), undefined, 'web .2 answers from 8080');
  t.is(index.find(conn('tcp', '203.0.113.1', 8080, '198.51.100.2', 8080)), undefined, 'no service on 8080');
  t.is(index.find(conn('udp', '203.0.113.1', 1005, '198.51.100.2', 1005)), undefined, 'range is TCP only');
  t.is(index.find(conn('tcp', '198.51.100.2', 8080, '198.51.100.2', 8080)), undefined, 'not to a VIP');
  t.is(index.find(conn('tcp', '203.0.113.2', 8000, '198.51.100.3', 8080)), undefined, 'another address');
});

test('a balanced connection is marked with some backend id: never 0, never a slot', (t) => {
  t.false(isBackendMark(0));
  t.true(isBackendMark(1));
  t.true(isBackendMark(SLOT_BASE - 1));
  t.false(isBackendMark(SLOT_BASE));
  t.false(isBackendMark(0xfffffc00));
});
