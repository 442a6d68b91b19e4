// watchConnections() with a fake conntrack: the first listing seeds the counts, events move them, a lost-events warning
// (ENOBUFS) rebuilds them from a new listing, and an event process that dies is restarted and the counts rebuilt.
import test from 'ava';
import type { ExecResult, Executor, LineStream } from '../../src/system/executor.js';
import { spillTargets, watchConnections, type FullChange } from '../../src/health/connections.js';
import { plan } from '../../src/plan/plan.js';
import { modelOf } from './support.js';

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

function fakeConntrack(): Executor & {
  listing: string[];
  lists: number;
  streams: { onLine: (l: string, from: 'stdout' | 'stderr') => void; exit: (code: number) => void }[];
} {
  const fake = {
    listing: [] as string[],
    lists: 0,
    streams: [] as { onLine: (l: string, from: 'stdout' | 'stderr') => void; exit: (code: number) => void }[],
    async run(cmd: string, args: readonly string[]): Promise<ExecResult> {
      if (cmd !== 'conntrack' || args[0] !== '-L') throw new Error(`unexpected ${cmd} ${args.join(' ')}`);
      if (args.includes('ipv4')) fake.lists++;
      return { exitCode: 0, stdout: args.includes('ipv4') ? fake.listing.join('\n') : '', stderr: '' };
    },
    async stream(cmd: string, args: readonly string[], onLine: (l: string, from: 'stdout' | 'stderr') => void) {
      if (cmd !== 'conntrack' || args.join(' ') !== '-E -o id -e NEW,UPDATE,DESTROY') throw new Error('unexpected');
      let exit!: (r: ExecResult) => void;
      const exited = new Promise<ExecResult>((done) => (exit = done));
      fake.streams.push({ onLine, exit: (code) => exit({ exitCode: code, stdout: '', stderr: 'gone' }) });
      const s: LineStream = { exited, end: async () => (exit({ exitCode: 0, stdout: '', stderr: '' }), exited) };
      return s;
    },
  };
  return fake;
}

const settle = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('listing, events, ENOBUFS and a dead event process all keep the counts right', async (t) => {
  const exec = fakeConntrack();
  exec.listing = [entry(1)];
  const changes: FullChange[] = [];
  const errors: string[] = [];
  const w = await watchConnections(
    exec,
    'conntrack',
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
  exec.listing = [entry(1), entry(3), entry(4)];
  exec.streams[0]!.onLine('WARNING: We have hit ENOBUFS! We are losing events.', 'stderr');
  await settle();
  t.is(exec.lists, 2);
  t.is(w.counts.count(1), 3);

  // The event process dies: reported, restarted after 1 s, and the counts rebuilt from a listing.
  exec.listing = [entry(1)];
  exec.streams[0]!.exit(1);
  await settle(1300);
  t.is(exec.streams.length, 2, 'a second conntrack -E');
  t.is(exec.lists, 3);
  t.is(w.counts.count(1), 1);
  t.deepEqual(changes.at(-1), { key: 'web/198.51.100.2:80', full: false, count: 1, max: 2 });
  t.is(errors.length, 1);
  t.regex(errors[0]!, /conntrack -E exited \(1\): gone; restarting it/);
  exec.streams[1]!.onLine(entry(5, 'NEW'), 'stdout');
  t.is(w.counts.count(1), 2, 'the new event process is followed');
  await w.stop();
  exec.streams[1]!.exit(0);
  await settle(1200);
  t.is(exec.streams.length, 2, 'no restart after stop()');
});
