// watchConnections() with a fake conntrack: the first listing seeds the counts, events move them, a lost-events warning
// (ENOBUFS) rebuilds them from a new listing, and an event process that dies is restarted and the counts rebuilt.
import test from 'ava';
import { FakeSystem } from '../support/fake-system.js';
import { spillTargets, watchConnections, type FullChange } from '../../src/health/connections.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from '../support/model.js';

const m = modelOf(`
services:
  - name: web
    vip: 203.0.113.10
    port: 80
    limit-overflow: spill
    backends:
      - { address: 198.51.100.2, max-connections: 2 }
      - { address: 198.51.100.3 }
`);

// A conntrack entry of backend 1 (198.51.100.2:80), as `conntrack -L -o id` lists it, or as an event.
const entry = (id: number, event?: string): string =>
  `${event === undefined ? '' : `[${event}] `}tcp      6 431999 ESTABLISHED src=203.0.113.50 dst=203.0.113.10 sport=${40000 + id} dport=80 src=198.51.100.2 dst=203.0.113.50 sport=80 dport=${40000 + id} [ASSURED] mark=1 use=1 id=${id}`;

// Listing calls of conntrack made so far (one per listing: its IPv4 half).
const lists = (exec: FakeSystem): number =>
  exec.calls.filter((c) => c.cmd === 'conntrack' && c.args[0] === '-L' && c.args.includes('ipv4')).length;

// Waits (by polling, bounded by count) until cond() holds; the work it waits for is timers and microtasks.
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`gave up waiting for ${what}`);
}

test('listing, events, ENOBUFS and a dead event process all keep the counts right', async (t) => {
  const exec = new FakeSystem();
  exec.conntrack.ipv4 = [entry(1)];
  const changes: FullChange[] = [];
  const errors: string[] = [];
  const w = await watchConnections(
    exec.host('/nonexistent'),
    spillTargets(m, plan(m)),
    [],
    (c) => changes.push(...c),
    (e) => errors.push((e as Error).message),
  );
  t.teardown(() => w.stop());
  t.is(w.counts.count(1), 1, 'seeded by the first listing');
  exec.streams[0]!.onLine(entry(2, 'NEW'), 'stdout');
  t.deepEqual(changes, [{ key: 'web/198.51.100.2:80', full: true, count: 2, max: 2 }]);

  // Events lost: the counts come from a new listing (connection 2 ended unseen, 3 and 4 began unseen).
  exec.conntrack.ipv4 = [entry(1), entry(3), entry(4)];
  exec.streams[0]!.onLine('WARNING: We have hit ENOBUFS! We are losing events.', 'stderr');
  await until(() => w.counts.count(1) === 3, 'the relisting');
  t.is(lists(exec), 2);
  t.is(w.counts.count(1), 3);

  // The event process dies: reported, restarted after 1 s, and the counts rebuilt from a listing.
  exec.conntrack.ipv4 = [entry(1)];
  exec.streams[0]!.exit(1, 'gone');
  await until(() => exec.streams.length === 2 && lists(exec) === 3 && w.counts.count(1) === 1, 'the restart');
  t.is(exec.streams.length, 2, 'a second conntrack -E');
  t.is(lists(exec), 3);
  t.is(w.counts.count(1), 1);
  t.deepEqual(changes.at(-1), { key: 'web/198.51.100.2:80', full: false, count: 1, max: 2 });
  t.is(errors.length, 1);
  t.regex(errors[0]!, /conntrack -E exited \(1\): gone; restarting it/);
  exec.streams[1]!.onLine(entry(5, 'NEW'), 'stdout');
  t.is(w.counts.count(1), 2, 'the new event process is followed');
  await w.stop();
  exec.streams[1]!.exit(0);
  // A restart would come 1 s after the exit; wait past it.
  await new Promise((r) => setTimeout(r, 1500));
  t.is(exec.streams.length, 2, 'no restart after stop()');
});
