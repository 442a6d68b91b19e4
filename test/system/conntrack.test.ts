import test from 'ava';
import fc from 'fast-check';
import { parseConntrack, parseConntrackLine, readConntrack, type CtEntry } from '../../src/system/conntrack.js';
import { fakeSystem } from '../support/fake-system.js';

// The parser finds conntrack's fields with indexOf instead of splitting each line into words (status reads every entry
// of a busy host). This is the word-splitting reading it replaced, kept as the specification it must agree with.
function byWords(line: string): ReturnType<typeof parseConntrackLine> {
  if (!line.includes('src=')) return null;
  const words = line.trim().split(/\s+/);
  const k = words[0]?.startsWith('[') === true ? 1 : 0;
  const proto = words[k];
  if (proto === undefined || proto === '') return null;
  let mark = 0;
  let bytes: number | null = null;
  let id: string | undefined;
  let dst: string | undefined;
  let dport: string | undefined;
  const srcs: string[] = [];
  const sports: string[] = [];
  for (let i = k + 1; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf('=');
    if (eq < 0) continue;
    const key = w.slice(0, eq);
    const v = w.slice(eq + 1);
    if (key === 'src') srcs.push(v);
    else if (key === 'sport') sports.push(v);
    else if (key === 'dst') dst ??= v;
    else if (key === 'dport') dport ??= v;
    else if (key === 'mark') mark = Number(v);
    else if (key === 'bytes') bytes = (bytes ?? 0) + Number(v);
    else if (key === 'id') id = v;
  }
  const state = words[k + 3] !== undefined && /^[A-Z_]+$/.test(words[k + 3]!) ? words[k + 3]! : '';
  return {
    event: k === 1 ? words[0]!.slice(1, -1) : undefined,
    proto,
    state,
    dst: dst ?? '',
    dport: dport === undefined ? undefined : Number(dport),
    mark,
    bytes,
    id,
    replySrc: srcs[1],
    replySport: sports[1] === undefined ? undefined : Number(sports[1]),
  };
}

const addr = fc.oneof(fc.ipV4(), fc.constantFrom('2001:db8::1', '2001:db8:0:0::2', '::1'));
const port = fc.integer({ min: 1, max: 65535 });
const counters = fc.option(
  fc.tuple(fc.nat(1e6), fc.nat(1e9)).map(([p, b]) => ` packets=${p} bytes=${b}`),
  { nil: '' },
);
// One direction: addresses, then ports (TCP, UDP) or ICMP's type/code/id, then byte counts when accounting is on.
const direction = (icmp: boolean) =>
  fc
    .tuple(addr, addr, port, port, counters)
    .map(([s, d, sp, dp, c]) =>
      icmp ? `src=${s} dst=${d} type=8 code=0 id=${sp}${c}` : `src=${s} dst=${d} sport=${sp} dport=${dp}${c}`,
    );
const line = fc
  .record({
    event: fc.constantFrom('', '[NEW] ', '    [UPDATE] ', '[DESTROY] '),
    proto: fc.constantFrom(['tcp', 6], ['udp', 17], ['icmp', 1], ['sctp', 132]),
    gap: fc.constantFrom(' ', '      ', '  '),
    timeout: fc.option(fc.nat(432000).map(String), { nil: undefined }),
    state: fc.constantFrom('', 'ESTABLISHED ', 'TIME_WAIT ', 'SYN_SENT ', 'CLOSE '),
    flag: fc.constantFrom('', '[UNREPLIED] '),
    assured: fc.constantFrom('', '[ASSURED] '),
    mark: fc.option(fc.nat(2 ** 32 - 1), { nil: undefined }),
    entryId: fc.option(fc.nat(2 ** 32 - 1), { nil: undefined }),
    zone: fc.boolean(),
  })
  .chain((r) => fc.tuple(fc.constant(r), direction(r.proto[0] === 'icmp'), direction(r.proto[0] === 'icmp')))
  .map(
    ([r, orig, reply]) =>
      `${r.event}${r.proto[0]}${r.gap}${r.proto[1]} ${r.timeout === undefined ? '' : `${r.timeout} `}${r.state}${orig} ${r.flag}${reply} ${r.assured}${r.mark === undefined ? '' : `mark=${r.mark} `}${r.zone ? 'zone=1 ' : ''}use=1${r.entryId === undefined ? '' : ` id=${r.entryId}`}`,
  );

test('parseConntrackLine reads every line as splitting it into words does', (t) => {
  fc.assert(
    fc.property(line, (l) => {
      t.deepEqual(parseConntrackLine(l), byWords(l), l);
    }),
    { numRuns: 2000 },
  );
  for (const other of ['', 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.', '   '])
    t.is(parseConntrackLine(other), byWords(other));
});

const CT = [
  'tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=4000 dport=80 packets=5 bytes=300 src=198.51.100.3 dst=198.51.100.1 sport=8080 dport=4000 packets=4 bytes=700 [ASSURED] mark=2 use=1',
  'tcp      6 100 ESTABLISHED src=203.0.113.12 dst=198.51.100.9 sport=4002 dport=22 src=198.51.100.9 dst=203.0.113.12 sport=22 dport=4002 mark=0 use=1',
  'udp      17 20 src=203.0.113.10 dst=203.0.113.1 sport=5353 dport=53 src=198.51.100.2 dst=198.51.100.1 sport=53 dport=5353 mark=4 use=1',
];

test('readConntrack visits the entries of both families after both were read, and skips unwanted marks unparsed', async (t) => {
  const f = fakeSystem({ conntrack: CT.join('\n') });
  f.conntrack.ipv6 = [
    'tcp      6 10 ESTABLISHED src=2001:db8::9 dst=2001:db8:1::1 sport=1 dport=80 src=2001:db8:2::2 dst=2001:db8::9 sport=80 dport=1 mark=3 use=1',
  ];
  const seen: CtEntry[] = [];
  const r = await readConntrack(
    f.host('/tmp'),
    (e) => seen.push(e),
    (mark) => mark !== 0,
  );
  t.deepEqual(r, { kind: 'ok', entries: 4 });
  t.deepEqual(
    seen.map((e) => e.mark),
    [2, 4, 3],
  );
  t.deepEqual(
    parseConntrack(CT.join('\n')).map((e) => e.mark),
    [2, 0, 4],
  );
  const none: CtEntry[] = [];
  const missing = fakeSystem({ missing: ['conntrack'] });
  const u = await readConntrack(missing.host('/tmp'), (e) => none.push(e));
  t.is(u.kind, 'unavailable');
  t.is(none.length, 0);
});

test('a busy host: 200,000 entries are read without spreading them onto the stack', async (t) => {
  const f = fakeSystem();
  f.conntrack.ipv4 = Array.from(
    { length: 200_000 },
    (_, i) =>
      `tcp      6 100 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=${i % 60000} dport=80 src=198.51.100.3 dst=203.0.113.10 sport=80 dport=1 mark=${1 + (i % 7)} use=1`,
  );
  let n = 0;
  const r = await readConntrack(f.host('/tmp'), () => void n++);
  t.deepEqual(r, { kind: 'ok', entries: 200_000 });
  t.is(n, 200_000);
});
