// fast-check arbitraries of iptables-save text for the import properties: load-balancing recipes built the usual ways
// with hostile values in every field (ports 0 and 70000, backwards ranges, --every 0, IPv6 in IPv4 files, weights out of
// range, marks past 32 bits), random rules and junk lines, and nftlb renders of random configs with random edits.
import fc from 'fast-check';
import { renderIptablesScript } from '../../src/iptables/script.js';
import { plan } from '../../src/plan/plan.js';
import { modelArb } from '../plan/random-config.js';

const pick = <T>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

const addr4 = pick('203.0.113.1', '203.0.113.2', '198.51.100.2', '198.51.100.3', '198.51.100.4', '0.0.0.0');
const addr6 = pick('2001:db8::1', '2001:db8::2', '2001:db8:1::5', '::1', '::');
const badAddr = pick('1.2.3', 'a.b.c.d', '10.0.0.0/8', '203.0.113.1-203.0.113.5', '::ffff:1.2.3.4', 'fe80::1%eth0', '');
const address = fc.oneof(
  { weight: 12, arbitrary: addr4 },
  { weight: 2, arbitrary: addr6 },
  { weight: 1, arbitrary: badAddr },
);
const hostAddress = fc.oneof(
  address,
  addr4.map((a) => `${a}/32`),
  addr6.map((a) => `${a}/128`),
);
const number = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map(String),
  pick(
    '0',
    '1',
    '2',
    '3',
    '65535',
    '65536',
    '70000',
    '4294967295',
    '4294967296',
    '99999999999',
    '-1',
    '0x10',
    'abc',
    '',
  ),
);
const port = fc.oneof({ weight: 8, arbitrary: pick('80', '443', '8080', '53') }, { weight: 1, arbitrary: number });
const portSpec = fc.oneof(
  { weight: 12, arbitrary: port },
  { weight: 1, arbitrary: fc.tuple(port, port).map(([a, b]) => `${a}:${b}`) },
  { weight: 1, arbitrary: pick('1:65535', '90:80', '8000:8010', ':80', '80:') },
  { weight: 1, arbitrary: fc.array(port, { minLength: 1, maxLength: 3 }).map((ps) => ps.join(',')) },
);
const endpoint = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(addr4, port).map(([a, p]) => `${a}:${p}`) },
  { weight: 4, arbitrary: address },
  { weight: 1, arbitrary: fc.tuple(addr6, port).map(([a, p]) => `[${a}]:${p}`) },
  { weight: 1, arbitrary: pick('198.51.100.2:8000-8010', '198.51.100.2-198.51.100.4', '[2001:db8::1]', ':80') },
);
const probability = pick('0.5', '0.333333333333', '0.25', '1', '1.0', '0', '1.5', 'abc', '1e-3', '0.66666666667', '');
const name = fc.oneof(
  pick('web', 'api', 'db', 'a', 'x-1', '9lives', 'true', 'null', '0x10', '123'),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,50}$/),
);
const scheduler = pick('round-robin', 'random', 'source-hash', 'symmetric-hash', 'maglev', 'wrr', '');
const state = pick('up', 'down', 'drain', 'backup', 'sleepy');
const comment = fc.oneof(
  fc.tuple(name, scheduler).map(([n, s]) => `nftlb service ${n} ${s}`.trim()),
  fc.tuple(name, scheduler).map(([n, s]) => `nftlb service ${n} ${s} no backend up`),
  fc.tuple(name, state, number).map(([n, s, w]) => `nftlb service ${n} backend ${s} weight ${w}`),
  pick('plain comment', 'nftlb service', 'x "quoted" y'),
);
const quote = (s: string): string => `"${s.replace(/["\\]/g, "'")}"`;

const chains = pick('SVC1', 'SVC2', 'BE1', 'BE2', 'BE3', 'NFTLB-S-web', 'NFTLB-B-1', 'NFTLB-B-2', 'NFTLB-B-3');
const builtin = pick(
  'PREROUTING',
  'OUTPUT',
  'POSTROUTING',
  'INPUT',
  'FORWARD',
  'NFTLB-DISPATCH',
  'NFTLB-POST',
  'NFTLB-GUARD',
);
const anyChain = fc.oneof(chains, builtin);

const match = fc.oneof(
  hostAddress.map((a) => `-d ${a}`),
  hostAddress.map((a) => `-s ${a}`),
  pick('-p tcp', '-p udp', '-p icmp', '-p 6'),
  fc.tuple(pick('tcp', 'udp'), portSpec).map(([p, s]) => `-p ${p} -m ${p} --dport ${s}`),
  fc.tuple(pick('tcp', 'udp'), portSpec).map(([p, s]) => `-p ${p} -m multiport --dports ${s}`),
  fc.tuple(number, number).map(([e, p]) => `-m statistic --mode nth --every ${e} --packet ${p}`),
  probability.map((p) => `-m statistic --mode random --probability ${p}`),
  pick('-m statistic --mode nth', '-m statistic --mode x', '--every 2', '-m statistic --every 2'),
  number.map((v) => `-m mark --mark ${v}`),
  number.map((v) => `-m connmark --mark ${v}`),
  pick('-m conntrack --ctstate NEW', '-m conntrack --ctstate DNAT', '-m state --state NEW,ESTABLISHED'),
  comment.map((c) => `-m comment --comment ${quote(c)}`),
  pick('-i eth0', '-o eth1', '! -d 203.0.113.1/32', '-m recent --rcheck', '--bogus 1', '-m tcp --dport'),
);
const target = fc.oneof(
  { weight: 3, arbitrary: anyChain.map((c) => `-j ${c}`) },
  { weight: 3, arbitrary: endpoint.map((e) => `-j DNAT --to-destination ${e}`) },
  { weight: 1, arbitrary: address.map((a) => `-j SNAT --to-source ${a}`) },
  { weight: 1, arbitrary: number.map((v) => `-j CONNMARK --set-xmark ${v}/0xffffffff`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(pick('src', 'dst', 'src,dst,sport,dport', 'spi', ''), number, number, number)
      .map(([t, m, o, r]) => `-j HMARK --hmark-tuple ${t} --hmark-mod ${m} --hmark-offset ${o} --hmark-rnd ${r}`),
  },
  {
    weight: 2,
    arbitrary: pick(
      '-j MASQUERADE',
      '-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff',
      '-j CONNMARK --restore-mark',
      '-j REJECT',
      '-j REJECT --reject-with tcp-reset',
      '-j DROP',
      '-j ACCEPT',
      '-j RETURN',
      '-j DNAT',
      '',
      '-j DNAT --to-destination 198.51.100.2 --to-destination 198.51.100.3',
    ),
  },
);
const randomRule = fc
  .tuple(anyChain, fc.array(match, { maxLength: 4 }), target)
  .map(([c, ms, t]) => `-A ${c} ${[...ms, t].join(' ')}`.trim());
const junk = pick(
  'garbage',
  '-I PREROUTING -j X',
  '-N SVC9',
  '-F SVC1',
  'COMMIT',
  '*raw',
  ':SVC1 - [0:0]',
  '# a comment',
  '',
);

// A listener rule and the pool it jumps to (statistic choices over backend chains or inline DNAT), backend chains with
// CONNMARK and DNAT, and source NAT, each field drawn from the hostile values above.
const recipe = fc
  .record({
    vip: hostAddress,
    proto: pick('tcp', 'udp'),
    ports: portSpec,
    comment: fc.option(comment, { nil: undefined }),
    mode: pick('nth', 'random', 'hmark', 'single', 'inline'),
    backends: fc.array(fc.record({ to: endpoint, note: fc.option(comment, { nil: undefined }), id: number }), {
      minLength: 1,
      maxLength: 4,
    }),
    every: fc.array(number, { maxLength: 4 }),
    hmark: fc.tuple(number, number),
    nat: pick('masquerade-all', 'per-backend', 'snat', 'none'),
    snat: address,
    chain: pick('SVC1', 'SVC2', 'NFTLB-S-web'),
    // A second listener of the same pool (another VIP, protocol or port): a config's protocols and ports apply to
    // every VIP of a service, so its config may listen where its rules do not, over another recipe's listener.
    also: fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ vip: hostAddress, proto: pick('tcp', 'udp'), ports: portSpec }) },
    ),
  })
  .map((r) => {
    const listenOn = (l: { vip: string; proto: string; ports: string }): string =>
      `-d ${l.vip} -p ${l.proto} -m ${l.proto} --dport ${l.ports}${r.comment === undefined ? '' : ` -m comment --comment ${quote(r.comment)}`}`;
    const listens = [r, ...(r.also === undefined ? [] : [r.also])].map(listenOn);
    const be = (i: number): string => `BE${r.chain}${i}`;
    const n = r.backends.length;
    const cond = (i: number): string =>
      i === n - 1
        ? ''
        : r.mode === 'nth'
          ? `-m statistic --mode nth --every ${r.every[i] ?? n - i} --packet 0 `
          : r.mode === 'hmark'
            ? `-m mark --mark ${i} `
            : `-m statistic --mode random --probability ${(1 / (n - i)).toFixed(11)} `;
    const lines: string[] = [];
    if (r.mode === 'inline')
      for (const listen of listens)
        r.backends.forEach((b, i) => lines.push(`-A PREROUTING ${listen} ${cond(i)}-j DNAT --to-destination ${b.to}`));
    else if (r.mode === 'single') for (const listen of listens) lines.push(`-A PREROUTING ${listen} -j ${be(0)}`);
    else {
      for (const listen of listens) lines.push(`-A PREROUTING ${listen} -j ${r.chain}`);
      if (r.mode === 'hmark')
        lines.push(`-A ${r.chain} -j HMARK --hmark-tuple src --hmark-mod ${r.hmark[0]} --hmark-offset ${r.hmark[1]}`);
      r.backends.forEach((_, i) => lines.push(`-A ${r.chain} ${cond(i)}-j ${be(i)}`));
    }
    if (r.mode !== 'inline')
      r.backends.forEach((b, i) => {
        const note = b.note === undefined ? '' : `-m comment --comment ${quote(b.note)} `;
        lines.push(`-A ${be(i)} ${note}-j CONNMARK --set-xmark ${b.id}/0xffffffff`);
        lines.push(`-A ${be(i)} -p ${r.proto} -j DNAT --to-destination ${b.to}`);
      });
    if (r.nat === 'masquerade-all') lines.push('-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE');
    if (r.nat === 'per-backend')
      r.backends.forEach((b) => lines.push(`-A POSTROUTING -m connmark --mark ${b.id} -j MASQUERADE`));
    if (r.nat === 'snat') lines.push(`-A POSTROUTING -m conntrack --ctstate DNAT -j SNAT --to-source ${r.snat}`);
    return lines;
  });

// A service whose two listeners (one pool chain) differ by VIP, protocol or port, and a port forward, all drawn from two
// VIPs, two protocols and two ports: the forward often lands where the service's config would listen and its rules do
// not (a config's protocols and ports apply to every VIP, each protocol with each port), or on its own listener.
const spot = fc.record({ vip: pick('203.0.113.1', '203.0.113.2'), proto: pick('tcp', 'udp'), port: pick('53', '80') });
const listenAt = (l: { vip: string; proto: string; port: string }): string =>
  `-d ${l.vip}/32 -p ${l.proto} -m ${l.proto} --dport ${l.port}`;
const crossed = fc
  .tuple(spot, spot, spot)
  .map(([a, b, f]) => [
    `-A PREROUTING ${listenAt(a)} -m comment --comment "nftlb service crossed round-robin" -j XSVC`,
    `-A PREROUTING ${listenAt(b)} -m comment --comment "nftlb service crossed round-robin" -j XSVC`,
    '-A XSVC -j DNAT --to-destination 198.51.100.7',
    `-A PREROUTING ${listenAt(f)} -j DNAT --to-destination 198.51.100.8`,
  ]);

/** An iptables-save text made of recipes, random rules and junk, in nat and filter sections. */
export const hostileSave: fc.Arbitrary<string> = fc
  .record({
    recipes: fc.array(recipe, { minLength: 1, maxLength: 3 }),
    crossed: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: crossed }),
    nat: fc.oneof(
      fc.constant([]),
      fc.array(fc.oneof({ weight: 4, arbitrary: randomRule }, { weight: 1, arbitrary: junk }), { maxLength: 5 }),
    ),
    filter: fc.oneof(fc.constant([]), fc.array(randomRule, { maxLength: 3 })),
    guard: fc.option(
      fc
        .tuple(hostAddress, pick('tcp', 'udp'), portSpec, comment, pick('REJECT', 'DROP'))
        .map(
          ([a, proto, p, c, t]) =>
            `-A NFTLB-GUARD -d ${a} -p ${proto} -m ${proto} --dport ${p} -m conntrack --ctstate NEW -m comment --comment ${quote(c)} -j ${t}`,
        ),
      { nil: undefined },
    ),
  })
  .map((x) =>
    [
      '*nat',
      ...x.recipes.flat(),
      ...x.crossed,
      ...x.nat,
      'COMMIT',
      '*filter',
      ...(x.guard === undefined ? [] : [x.guard]),
      ...x.filter,
      'COMMIT',
      '',
    ].join('\n'),
  );

/** The IPv4 and IPv6 renders of a random valid config (empty text for a family the renderer refuses). */
// Random configs without what the iptables output refuses (DSR services, persistence: exit 5, tested elsewhere).
export const iptablesModelArb = modelArb.map((m) => ({
  ...m,
  services: m.services.filter((s) => s.dsr === undefined && s.persistence === undefined),
}));

export const renderedPair: fc.Arbitrary<{ v4: string; v6: string }> = iptablesModelArb.map((m) => {
  const p = plan(m);
  const render = (family: 4 | 6): string => {
    try {
      return renderIptablesScript(p, family);
    } catch {
      return '';
    }
  };
  return { v4: render(4), v6: render(6) };
});

// Random edits of a text: a number replaced by a hostile one, a line dropped or repeated, a chain name changed.
const edit = fc.oneof(
  fc.tuple(fc.nat(), number).map(([k, v]) => (t: string): string => {
    const nums = [...t.matchAll(/\b[0-9]+\b/g)];
    const m = nums.length === 0 ? undefined : nums[k % nums.length]!;
    return m === undefined ? t : t.slice(0, m.index) + v + t.slice(m.index! + m[0].length);
  }),
  fc.nat().map((k) => (t: string): string => {
    const lines = t.split('\n');
    lines.splice(k % lines.length, 1);
    return lines.join('\n');
  }),
  fc.nat().map((k) => (t: string): string => {
    const lines = t.split('\n');
    const i = k % lines.length;
    lines.splice(i, 0, lines[i]!);
    return lines.join('\n');
  }),
  fc.tuple(fc.nat(), chains).map(([k, c]) => (t: string): string => {
    const names = [...t.matchAll(/NFTLB-[SB]-[A-Za-z0-9_-]+/g)];
    const m = names.length === 0 ? undefined : names[k % names.length]!;
    return m === undefined ? t : t.slice(0, m.index) + c + t.slice(m.index! + m[0].length);
  }),
  fc.tuple(fc.nat(), comment).map(([k, c]) => (t: string): string => {
    const cs = [...t.matchAll(/--comment "[^"]*"/g)];
    const m = cs.length === 0 ? undefined : cs[k % cs.length]!;
    return m === undefined ? t : t.slice(0, m.index) + `--comment ${quote(c)}` + t.slice(m.index! + m[0].length);
  }),
);

/** A render pair with one to three random edits in each file. */
export const editedRender: fc.Arbitrary<{ v4: string; v6: string }> = fc
  .tuple(renderedPair, fc.array(edit, { minLength: 1, maxLength: 3 }), fc.array(edit, { maxLength: 2 }))
  .map(([r, e4, e6]) => ({ v4: e4.reduce((t, f) => f(t), r.v4), v6: e6.reduce((t, f) => f(t), r.v6) }));
