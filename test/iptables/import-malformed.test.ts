// Malformed and unusual recipes: each rule that cannot be imported is listed with file, line and why, the rest is
// imported, and the exit code is 11 (never 1: exit 1 is a bug in nftlb).
import test, { type ExecutionContext } from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import { checkConfig } from '../../src/config/read.js';
import { importRunner, type ImportRun } from './support.js';

const runImport = importRunner(test);
const importText = async (text: string, more: string[] = []): Promise<ImportRun & { file: string }> => {
  const r = await runImport([text], more);
  return { ...r, file: r.files[0]! };
};

// A pool chain recipe (lines 4-6) beside a plain port forward (line 7) that always imports.
const recipe = (listen: string, to: string, nth = '--every 2 --packet 0'): string =>
  [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':SVC - [0:0]',
    `-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp ${listen} -j SVC`,
    `-A SVC -m statistic --mode nth ${nth} -j DNAT --to-destination ${to}`,
    '-A SVC -j DNAT --to-destination 198.51.100.3:80',
    '-A PREROUTING -d 203.0.113.9/32 -p tcp -m tcp --dport 22 -j DNAT --to-destination 198.51.100.9:22',
    'COMMIT',
    '',
  ].join('\n');

// nftlb's own render of a two-backend service, with the backend comments given.
const render = (first: string, second: string): string =>
  [
    '*nat',
    '-A NFTLB-DISPATCH -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -m comment --comment "nftlb service web round-robin" -j NFTLB-S-web',
    '-A NFTLB-S-web -m statistic --mode nth --every 2 --packet 0 -j NFTLB-B-1',
    '-A NFTLB-S-web -j NFTLB-B-2',
    `-A NFTLB-B-1 -m comment --comment "nftlb service web backend ${first}" -j CONNMARK --set-xmark 0x1/0xffffffff`,
    '-A NFTLB-B-1 -p tcp -j DNAT --to-destination 198.51.100.2:80',
    `-A NFTLB-B-2 -m comment --comment "nftlb service web backend ${second}" -j CONNMARK --set-xmark 0x2/0xffffffff`,
    '-A NFTLB-B-2 -p tcp -j DNAT --to-destination 198.51.100.3:80',
    '-A NFTLB-DISPATCH -d 203.0.113.9/32 -p tcp -m tcp --dport 22 -j DNAT --to-destination 198.51.100.9:22',
    'COMMIT',
    '',
  ].join('\n');

interface Case {
  readonly title: string;
  readonly text: string;
  /** The line whose reason says what is wrong, and the reason. */
  readonly line: number;
  readonly why: RegExp;
  /** Every line listed as not understood. */
  readonly listed: readonly number[];
}

const CASES: readonly Case[] = [
  {
    title: '--dport 0',
    text: recipe('--dport 0', '198.51.100.2:80'),
    line: 4,
    why: /--dport: port 0 is outside 1\.\.65535/,
    listed: [4, 5, 6],
  },
  {
    title: '--dport 65536',
    text: recipe('--dport 65536', '198.51.100.2:80'),
    line: 4,
    why: /port 65536 is outside 1\.\.65535/,
    listed: [4, 5, 6],
  },
  {
    title: '--dport 90:80',
    text: recipe('--dport 90:80', '198.51.100.2:80'),
    line: 4,
    why: /port range 90:80 runs backwards/,
    listed: [4, 5, 6],
  },
  {
    title: '--dport 1:65535 with a fixed DNAT port',
    text: recipe('--dport 1:65535', '198.51.100.2:80'),
    line: 4,
    why: /DNAT to a fixed port \(198\.51\.100\.2:80\) from the ports 1-65535/,
    listed: [4, 5, 6],
  },
  {
    title: '-m multiport --dports 80,443 with a fixed DNAT port',
    text: recipe('-m multiport --dports 80,443', '198.51.100.2:80'),
    line: 4,
    why: /DNAT to a fixed port .* from the ports 80, 443/,
    listed: [4, 5, 6],
  },
  {
    title: 'DNAT to :0',
    text: recipe('--dport 80', '198.51.100.2:0'),
    line: 5,
    why: /--to-destination 198\.51\.100\.2:0: port 0 is outside/,
    listed: [4, 5, 6],
  },
  {
    title: 'DNAT to :70000',
    text: recipe('--dport 80', '198.51.100.2:70000'),
    line: 5,
    why: /port 70000 is outside 1\.\.65535/,
    listed: [4, 5, 6],
  },
  {
    title: 'DNAT to :65536',
    text: recipe('--dport 80', '198.51.100.2:65536'),
    line: 5,
    why: /port 65536 is outside/,
    listed: [4, 5, 6],
  },
  {
    title: 'DNAT to [IPv6]:port in an IPv4 file',
    text: recipe('--dport 80', '[2001:db8::1]:80'),
    line: 4,
    why: /DNAT to IPv6 address 2001:db8::1 from an IPv4 listener/,
    listed: [4, 5, 6],
  },
  {
    title: 'DNAT to a bare IPv6 address in an IPv4 file',
    text: recipe('--dport 80', '2001:db8::1'),
    line: 4,
    why: /DNAT to IPv6 address 2001:db8::1 from an IPv4 listener/,
    listed: [4, 5, 6],
  },
  {
    title: '--every 0',
    text: recipe('--dport 80', '198.51.100.2:80', '--every 0 --packet 0'),
    line: 5,
    why: /--every 0: a statistic nth match needs --every 1 or more/,
    listed: [4, 5, 6],
  },
  {
    title: 'a weight comment of 99999999999',
    text: render('up weight 99999999999', 'up weight 1'),
    line: 5,
    why: /weight 99999999999 in the nftlb comment is outside 1\.\.10000/,
    listed: [2, 3, 4, 5, 6, 7, 8],
  },
  {
    title: 'backup weight 0',
    text: render('up weight 1', 'backup weight 0'),
    line: 7,
    why: /weight 0 in the nftlb comment is outside 1\.\.10000/,
    listed: [2, 3, 4, 5, 6, 7, 8],
  },
  {
    title: '--packet not below --every',
    text: recipe('--dport 80', '198.51.100.2:80', '--every 2 --packet 2'),
    line: 5,
    why: /--packet 2 is not below --every 2/,
    listed: [4, 5, 6],
  },
  {
    title: 'an option given twice',
    text: recipe('--dport 80', '198.51.100.2:80', '--every 2 --packet 1 --packet 0'),
    line: 5,
    why: /--packet is given twice/,
    listed: [4, 5, 6],
  },
  {
    title: 'DNAT to a port range',
    text: recipe('--dport 80', '198.51.100.2:8000-8010'),
    line: 5,
    why: /a range of addresses or ports is not a backend/,
    listed: [4, 5, 6],
  },
];

for (const c of CASES) {
  test(`${c.title}: listed with its line and why, the rest imported, exit 11`, async (t) => {
    const r = await importText(c.text);
    t.is(r.code, EXIT.importIncomplete, r.err);
    const model = checkConfig('out.yaml', r.out).model;
    t.truthy(model, r.out);
    t.true(
      model!.services.some((s) => s.backends.some((b) => b.address.text === '198.51.100.9')),
      'the port forward is imported',
    );
    t.false(r.out.includes('198.51.100.2'), 'nothing of the malformed recipe is imported');
    const lines = r.err.split('\n').filter((l) => l.includes(': not understood: '));
    t.deepEqual(
      lines.map((l) => Number(l.slice(r.file.length + 1).split(':')[0])),
      c.listed,
    );
    const mine = lines.find((l) => l.startsWith(`${r.file}:${c.line}: not understood: `));
    t.regex(mine ?? '', c.why);
    t.regex(r.err, new RegExp(`nftlb: ${c.listed.length} rules not imported \\(listed above\\)\\n$`));
  });
}

test('a filter rule that refuses new connections to a listener nothing balances is listed (a firewall rule), not a bug', async (t) => {
  const r = await importText(
    '*filter\n-A INPUT -d 203.0.113.1/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j DROP\nCOMMIT\n',
  );
  t.is(r.code, EXIT.importIncomplete);
  t.is(r.out, 'services: []\n');
  t.regex(
    r.err,
    /:2: not understood: service tcp-203-0-113-1-22: new connections to the listener are refused, and no backend chain names it/,
  );
});

test('two listeners that overlap: the second is listed, naming the first', async (t) => {
  const r = await importText(
    [
      '*nat',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.51.100.2:80',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 1:100 -j DNAT --to-destination 198.51.100.3',
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.is(r.code, EXIT.importIncomplete);
  t.regex(
    r.err,
    /:3: not understood: 203\.0\.113\.1 tcp port 1-100 overlaps the listener of service tcp-203-0-113-1-80 \(.*:2\)/,
  );
  t.regex(r.out, /address: 198\.51\.100\.2/);
});

test('one listener in PREROUTING and OUTPUT with the same inline DNAT rules is one service', async (t) => {
  const rules = (chain: string): string[] => [
    `-A ${chain} -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 198.51.100.2:80`,
    `-A ${chain} -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.51.100.3:80`,
  ];
  const r = await importText(['*nat', ...rules('PREROUTING'), ...rules('OUTPUT'), 'COMMIT', ''].join('\n'));
  t.is(r.code, EXIT.ok, r.err);
  t.is(checkConfig('out.yaml', r.out).model?.services.length, 1);
});

test('two DNAT rules to one destination are one backend that takes both shares', async (t) => {
  const r = await importText(
    [
      '*nat',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination 198.51.100.2:80',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 198.51.100.2:80',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.51.100.3:80',
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.is(r.code, EXIT.ok, r.err);
  const backends = checkConfig('out.yaml', r.out).model!.services[0]!.backends;
  t.deepEqual(
    backends.map((b) => [b.address.text, b.weight]),
    [
      ['198.51.100.2', 2],
      ['198.51.100.3', 1],
    ],
  );
});

test('a pool chain with a second, different pool for the same service name is listed, not merged', async (t) => {
  const r = await importText(
    [
      '*nat',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -m comment --comment "nftlb service web round-robin" -j A',
      '-A PREROUTING -d 203.0.113.2/32 -p tcp -m tcp --dport 80 -m comment --comment "nftlb service web round-robin" -j B',
      '-A A -j DNAT --to-destination 198.51.100.2:80',
      '-A B -j DNAT --to-destination 198.51.100.3:80',
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.is(r.code, EXIT.importIncomplete);
  t.regex(r.err, /:3: not understood: service web already takes its IPv4 connections from chain A/);
  t.regex(r.err, /:5: not understood: chain B is reached from line 3, which is not understood/);
  t.notRegex(r.out, /198\.51\.100\.3/);
});

test('an unreadable input is exit 4, naming the file', async (t) => {
  const r = await importText('', ['/nonexistent/missing.save']);
  t.is(r.code, EXIT.configRead);
  t.regex(r.err, /cannot read .*missing\.save: ENOENT/);
  t.is(r.out, '');
});

test("the input's control characters are not echoed to the terminal", async (t) => {
  const r = await importText('*nat\n-A X \u001b[31mred -j ACCEPT\nCOMMIT\n');
  t.is(r.code, EXIT.importIncomplete);
  t.false(r.err.includes('\u001b'));
  t.regex(r.err, /option \\u001b\[31mred is not understood/);
  // Nor a bidi override, nor megabytes of one rule: each listed line is short and printable.
  const long = await importText(
    `*nat\n-A PREROUTING ${'x'.repeat(1_000_000)}\n-A X -m comment --comment "a\u202eb" -j ACCEPT\nCOMMIT\n`,
  );
  t.false(long.err.includes('\u202e'));
  t.true(
    long.err.split('\n').every((l) => l.length < 3000),
    `${long.err.length} characters`,
  );
});

// An input of which nothing imports: exit 11, no service, line 2 listed for `why`, and the importer's own reason (a
// service left to the config check would be a gap in its checks).
async function refusedWhole(t: ExecutionContext, lines: readonly string[], why: RegExp): Promise<void> {
  const r = await importText([...lines, ''].join('\n'));
  t.is(r.code, EXIT.importIncomplete);
  t.is(r.out, 'services: []\n');
  t.regex(r.err, why);
  t.false(r.err.includes('fails nftlb check'), r.err);
}

// Found by the property test: nftlb's render of a Maglev pool whose HMARK table holds its three backends up, edited to
// have two more backends down (chains nothing jumps to). A config's table-size must be at least its backends, so the
// importer says so in the rules' terms instead of leaving it to the config check.
test('a Maglev HMARK table smaller than the backends its comments name is listed, with the table and the count', async (t) => {
  const backend = (n: number, state: string): string[] => [
    `-A NFTLB-B-${n} -m comment --comment "nftlb service s0 backend ${state} weight 1" -j CONNMARK --set-xmark 0x${n}/0xffffffff`,
    `-A NFTLB-B-${n} -p tcp -j DNAT --to-destination 198.51.100.${n}:8000`,
  ];
  await refusedWhole(
    t,
    [
      '*nat',
      '-A NFTLB-DISPATCH -d 203.0.113.1/32 -p tcp -m tcp --dport 8000 -m comment --comment "nftlb service s0 maglev" -j NFTLB-S-s0',
      '-A NFTLB-S-s0 -j HMARK --hmark-tuple src --hmark-mod 3 --hmark-offset 0x100000 --hmark-rnd 0xe35a0cef',
      '-A NFTLB-S-s0 -m mark --mark 0x100000 -j NFTLB-B-1',
      '-A NFTLB-S-s0 -m mark --mark 0x100001 -j NFTLB-B-2',
      '-A NFTLB-S-s0 -j NFTLB-B-3',
      ...backend(1, 'up'),
      ...backend(2, 'up'),
      ...backend(3, 'up'),
      ...backend(4, 'down'),
      ...backend(5, 'down'),
      'COMMIT',
    ],
    /:2: not understood: service s0: Maglev table of 3 slots \(HMARK --hmark-mod 3\) for 5 backends: a config's table-size is at least its number of backends: /,
  );
});

// Found by the property test: one service's listener on 80-8080 and its guard rule (no backend up) on port 80 of
// another VIP. A config's ports apply to every VIP of the service, so the two would overlap; the importer says so.
test("a service's listeners on overlapping ports (one VIP 80-8080, another 80) are listed, naming both", async (t) => {
  await refusedWhole(
    t,
    [
      '*nat',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80:8080 -m comment --comment "nftlb service db round-robin" -j SVC1',
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      'COMMIT',
      '*filter',
      '-A NFTLB-GUARD -d 203.0.113.2/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -m comment --comment "nftlb service db round-robin" -j REJECT',
      'COMMIT',
    ],
    /:2: not understood: service db: listeners on ports 80-8080 and 80: a config's ports apply to every VIP of the service, and these overlap: /,
  );
});

// An input of which one service is listed for `why` (its rules at `listed`, nothing else) and the rest imports: exit
// 11, the importer's own reason, the config holding the services `kept`.
async function refusedOne(
  t: ExecutionContext,
  lines: readonly string[],
  why: RegExp,
  listed: readonly number[],
  kept: readonly string[],
): Promise<void> {
  const r = await importText([...lines, ''].join('\n'));
  t.is(r.code, EXIT.importIncomplete, r.err);
  t.false(r.err.includes('fails nftlb check'), r.err);
  const notUnderstood = r.err.split('\n').filter((l) => l.includes(': not understood: '));
  t.deepEqual(
    notUnderstood.map((l) => Number(l.slice(r.file.length + 1).split(':')[0])),
    listed,
    r.err,
  );
  for (const l of notUnderstood) t.regex(l, why);
  t.deepEqual(
    checkConfig('out.yaml', r.out).model?.services.map((s) => s.name),
    kept,
    r.out,
  );
}

// A config's protocols and ports apply to every VIP of a service, each protocol with each port. A service whose
// listener rules differ by VIP gets listeners in a config that its rules never had; where one overlaps another
// service's listener the importer lists the service that would invent it (the config check refused the other one, the
// port forward whose rules do have that listener).
const web = (vip: string, proto: string, port: string): string =>
  `-A PREROUTING -d ${vip}/32 -p ${proto} -m ${proto} --dport ${port} -m comment --comment "nftlb service web round-robin" -j SVC1`;
const forward = (vip: string, proto: string, port: string): string =>
  `-A PREROUTING -d ${vip}/32 -p ${proto} -m ${proto} --dport ${port} -j DNAT --to-destination 198.51.100.9`;

test('a service with tcp on one VIP and udp on another is listed when its udp on the first VIP would overlap another listener', async (t) => {
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'tcp', '80'),
      web('203.0.113.2', 'udp', '80'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.1', 'udp', '80'),
      'COMMIT',
    ],
    /: service web: listeners 203\.0\.113\.1 tcp port 80 \(.*:2\) and 203\.0\.113\.2 udp port 80 \(.*:3\): a config's protocols and ports apply to every VIP of the service, each protocol with each port, so it would also listen on 203\.0\.113\.1 udp port 80, which overlaps the listener of service udp-203-0-113-1-80 \(.*:5\): /,
    [2, 3, 4],
    ['udp-203-0-113-1-80'],
  );
});

test('a protocol on only some VIPs of a service (udp on both, tcp on one) is listed when the missing tcp would overlap', async (t) => {
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'tcp', '53'),
      web('203.0.113.1', 'udp', '53'),
      web('203.0.113.2', 'udp', '53'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.2', 'tcp', '53'),
      'COMMIT',
    ],
    /: service web: listeners 203\.0\.113\.2 udp port 53 \(.*:4\) and 203\.0\.113\.1 tcp port 53 \(.*:2\): .* so it would also listen on 203\.0\.113\.2 tcp port 53, which overlaps the listener of service tcp-203-0-113-2-53 \(.*:6\): /,
    [2, 3, 4, 5],
    ['tcp-203-0-113-2-53'],
  );
});

test('a guard rule giving a service a protocol its listener lacks, on another VIP, is listed when it would overlap', async (t) => {
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'udp', '53'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.1', 'tcp', '53'),
      'COMMIT',
      '*filter',
      '-A NFTLB-GUARD -d 203.0.113.2/32 -p tcp -m tcp --dport 53 -m conntrack --ctstate NEW -m comment --comment "nftlb service web round-robin" -j REJECT',
      'COMMIT',
    ],
    /: service web: listeners 203\.0\.113\.1 udp port 53 \(.*:2\) and 203\.0\.113\.2 tcp port 53 \(.*:7\): .* so it would also listen on 203\.0\.113\.1 tcp port 53, which overlaps the listener of service tcp-203-0-113-1-53 \(.*:4\): /,
    [2, 3, 7],
    ['tcp-203-0-113-1-53'],
  );
});

test('a service with port 80 on one VIP and 443 on another is listed when its 443 on the first VIP would overlap another listener', async (t) => {
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'tcp', '80'),
      web('203.0.113.2', 'tcp', '443'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.1', 'tcp', '443'),
      'COMMIT',
    ],
    /: service web: listeners 203\.0\.113\.1 tcp port 80 \(.*:2\) and 203\.0\.113\.2 tcp port 443 \(.*:3\): .* so it would also listen on 203\.0\.113\.1 tcp port 443, which overlaps the listener of service tcp-203-0-113-1-443 \(.*:5\): /,
    [2, 3, 4],
    ['tcp-203-0-113-1-443'],
  );
});

test('a service with tcp 80 and udp 53 on one VIP is listed when its tcp 53 would overlap another listener', async (t) => {
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'tcp', '80'),
      web('203.0.113.1', 'udp', '53'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.1', 'tcp', '50:60'),
      'COMMIT',
    ],
    /: service web: listeners 203\.0\.113\.1 tcp port 80 \(.*:2\) and 203\.0\.113\.1 udp port 53 \(.*:3\): .* so it would also listen on 203\.0\.113\.1 tcp port 53, which overlaps the listener of service tcp-203-0-113-1-50-60 \(.*:5\): /,
    [2, 3, 4],
    ['tcp-203-0-113-1-50-60'],
  );
});

test('a listener whose VIP, protocol and port come from three rules names the three', async (t) => {
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'tcp', '80'),
      web('203.0.113.2', 'udp', '53'),
      web('203.0.113.3', 'udp', '80'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.3', 'tcp', '53'),
      'COMMIT',
    ],
    /: service web: listeners 203\.0\.113\.3 udp port 80 \(.*:4\), 203\.0\.113\.1 tcp port 80 \(.*:2\) and 203\.0\.113\.2 udp port 53 \(.*:3\): .* so it would also listen on 203\.0\.113\.3 tcp port 53, which overlaps the listener of service tcp-203-0-113-3-53 \(.*:6\): /,
    [2, 3, 4, 5],
    ['tcp-203-0-113-3-53'],
  );
});

test('two services whose configs would both invent overlapping listeners: the first is kept, the second listed', async (t) => {
  const api = (vip: string, proto: string, port: string): string =>
    `-A PREROUTING -d ${vip}/32 -p ${proto} -m ${proto} --dport ${port} -m comment --comment "nftlb service api round-robin" -j SVC2`;
  // web would add 203.0.113.2 tcp port 80, and so would api (which has no udp listener of web's to overlap).
  await refusedOne(
    t,
    [
      '*nat',
      web('203.0.113.1', 'tcp', '80'),
      web('203.0.113.2', 'tcp', '443'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      api('203.0.113.3', 'tcp', '80'),
      api('203.0.113.2', 'udp', '53'),
      '-A SVC2 -j DNAT --to-destination 198.51.100.3',
      'COMMIT',
    ],
    /: service api: listeners 203\.0\.113\.2 udp port 53 \(.*:6\) and 203\.0\.113\.3 tcp port 80 \(.*:5\): .* so it would also listen on 203\.0\.113\.2 tcp port 80, which overlaps a listener service web would get the same way \(.*:2\): /,
    [5, 6, 7],
    ['web'],
  );
});

test('a service whose cross product only repeats the listeners it has imports beside a neighbour on the same VIPs', async (t) => {
  const r = await importText(
    [
      '*nat',
      web('203.0.113.1', 'tcp', '80'),
      web('203.0.113.1', 'udp', '80'),
      web('203.0.113.2', 'udp', '80'),
      web('203.0.113.2', 'tcp', '80'),
      '-A SVC1 -j DNAT --to-destination 198.51.100.2',
      forward('203.0.113.1', 'tcp', '81'),
      forward('203.0.113.2', 'udp', '81'),
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.is(r.code, EXIT.ok, r.err);
  t.is(r.err, '');
  const services = checkConfig('out.yaml', r.out).model!.services;
  t.deepEqual(
    services.map((s) => [s.name, s.vips.map((v) => v.text), s.protocols, s.ports]),
    [
      ['web', ['203.0.113.1', '203.0.113.2'], ['tcp', 'udp'], [{ first: 80, last: 80 }]],
      ['tcp-203-0-113-1-81', ['203.0.113.1'], ['tcp'], [{ first: 81, last: 81 }]],
      ['udp-203-0-113-2-81', ['203.0.113.2'], ['udp'], [{ first: 81, last: 81 }]],
    ],
  );
});
