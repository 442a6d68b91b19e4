// What the import must not take for a service's recipe: source NAT with conditions a config cannot say, listeners
// with conditions a config cannot say, and rules no hook reaches. Each is listed and changes no service.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { run } from '../../src/cli/program.js';
import { fixturesDir, importRunner } from './support.js';

const runImport = importRunner(test);

// A port forward seen by the backend with the client's address, and the rules given after it.
const forward = (...more: string[]): string =>
  [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.51.100.2:8080',
    ...more,
    'COMMIT',
    '',
  ].join('\n');

test('source NAT with a condition a config cannot say is listed and leaves the services without NAT', async (t) => {
  for (const rule of [
    '-A POSTROUTING -s 198.18.0.0/15 -o eth1 -j MASQUERADE',
    '-A POSTROUTING -o eth1 -m conntrack --ctstate DNAT -j MASQUERADE',
    '-A POSTROUTING -m mark --mark 0x4000/0x4000 -j SNAT --to-source 203.0.113.7',
    '-A POSTROUTING -j MASQUERADE',
    '-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE --random-fully',
    '-A POSTROUTING -o eth1 -m connmark --mark 0x1 -j MASQUERADE',
  ]) {
    const r = await runImport([forward(rule)]);
    t.is(r.code, EXIT.importIncomplete, rule);
    t.regex(r.out, /nat: none/, rule);
    t.regex(r.err, /:5: not understood: source NAT on what a config cannot say/, rule);
  }
});

test('source NAT for DNATed connections still applies to every service of the file', async (t) => {
  const r = await runImport([forward('-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE')]);
  t.is(r.err, '');
  t.is(r.code, EXIT.ok);
  t.notRegex(r.out, /nat:/);
});

test('source NAT with no service imported from its file is listed, not used up silently', async (t) => {
  const r = await runImport([
    '*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE\nCOMMIT\n',
  ]);
  t.is(r.code, EXIT.importIncomplete);
  t.regex(r.err, /:3: not understood: source NAT for every DNATed connection, but no service/);
});

test('a connmark source NAT for a mark no backend sets is listed', async (t) => {
  const r = await runImport([forward('-A POSTROUTING -m connmark --mark 0x9 -j MASQUERADE')]);
  t.is(r.code, EXIT.importIncomplete);
  t.regex(r.err, /:5: not understood: source NAT for ct mark 0x9, which no imported backend sets/);
  t.regex(r.out, /nat: none/);
});

test('a listener on an interface or a mark is listed with its recipe, never imported without its condition', async (t) => {
  const r = await runImport([
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':SVC - [0:0]',
      '-A PREROUTING -i eth0 -m mark --mark 0x4000/0x4000 -d 203.0.113.1/32 -p tcp -m tcp --dport 83 -j DNAT --to-destination 198.51.100.3:8080',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 83 -j DNAT --to-destination 198.51.100.4:8080',
      '-A PREROUTING -i eth1 -d 203.0.113.1/32 -p tcp -m tcp --dport 84 -j SVC',
      '-A SVC -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 198.51.100.2:80',
      '-A SVC -j DNAT --to-destination 198.51.100.3:80',
      '-A PREROUTING -d 203.0.113.1/32 -p tcp -m tcp --dport 85 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 198.51.100.5:80',
      '-A PREROUTING -d 203.0.113.9/32 -p tcp -m tcp --dport 22 -j DNAT --to-destination 198.51.100.9:22',
      'COMMIT',
      '',
    ].join('\n'),
  ]);
  t.is(r.code, EXIT.importIncomplete);
  t.regex(r.err, /:4: not understood: a listener on -i eth0, -m mark: /);
  t.regex(r.err, /:5: not understood: line 4, a rule of this listener, is not understood/);
  t.regex(r.err, /:6: not understood: a listener on -i eth1: /);
  t.regex(r.err, /:7: not understood: chain SVC is reached from line 6/);
  t.regex(r.err, /:8: not understood: chain SVC is reached from line 6/);
  t.regex(r.err, /:9: not understood: the last rule of the pool is not unconditional/);
  t.notRegex(r.out, /port: 8[345]/);
  t.regex(r.out, /port: 22/);
});

test('listeners in chains a hook reaches only through a rule not understood are listed, naming that rule', async (t) => {
  const r = await runImport([
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':FWD - [0:0]',
      ':FWD2 - [0:0]',
      '-A PREROUTING ! -s 198.18.0.0/15 -j FWD',
      '-A PREROUTING -s 198.18.0.0/15 -j FWD2',
      '-A FWD -d 203.0.113.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.51.100.2:8080',
      '-A FWD2 -d 203.0.113.1/32 -p tcp -m tcp --dport 81 -j DNAT --to-destination 198.51.100.2:8080',
      '-A PREROUTING -d 203.0.113.9/32 -p tcp -m tcp --dport 22 -j DNAT --to-destination 198.51.100.9:22',
      'COMMIT',
      '',
    ].join('\n'),
  ]);
  t.is(r.code, EXIT.importIncomplete);
  t.regex(r.err, /:6: not understood: /);
  t.regex(r.err, /:7: not understood: chain FWD is reached from line 5, which is not understood/);
  t.regex(r.err, /:8: not understood: chain FWD2 is reached from line 6, which is not understood/);
  t.notRegex(r.out, /port: 8[01]/);
  t.regex(r.out, /port: 22/);
});

test('a chain no hook reaches is ignored with the reason: its listener, guard and source NAT do nothing', async (t) => {
  const r = await runImport([
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':OLD - [0:0]',
      ':OLDPOST - [0:0]',
      '-A OLD -d 203.0.113.1/32 -p tcp -m tcp --dport 90 -j DNAT --to-destination 198.51.100.2:8080',
      '-A OLDPOST -m conntrack --ctstate DNAT -j MASQUERADE',
      '-A PREROUTING -d 203.0.113.9/32 -p tcp -m tcp --dport 22 -j DNAT --to-destination 198.51.100.9:22',
      'COMMIT',
      '*filter',
      ':OLDF - [0:0]',
      '-A OLDF -d 203.0.113.1/32 -p tcp -m tcp --dport 91 -m conntrack --ctstate NEW -j REJECT',
      'COMMIT',
      '',
    ].join('\n'),
  ]);
  t.is(r.code, EXIT.ok);
  t.regex(r.err, /:6: ignored: chain OLD is reached from no hook/);
  t.regex(r.err, /:7: ignored: chain OLDPOST is reached from no hook/);
  t.regex(r.err, /:12: ignored: chain OLDF is reached from no hook/);
  t.notRegex(r.out, /port: 9[01]/);
  t.regex(r.out, /port: 22\n {4}nat: none/);
});

// What `iptables-restore --noflush` leaves after loading `second` over `first`: each chain `second` declares holds its
// rules, every other chain keeps those of `first` (nftlb's render declares every chain it writes).
function noflush(first: string, second: string): string {
  const tables = (text: string): Map<string, Map<string, string[]>> => {
    const out = new Map<string, Map<string, string[]>>();
    let chains = new Map<string, string[]>();
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) out.set(line, (chains = new Map()));
      else if (line.startsWith(':')) chains.set(line.slice(1).split(' ')[0]!, []);
      else if (line.startsWith('-A ')) chains.get(line.split(' ')[1]!)!.push(line);
    }
    return out;
  };
  const a = tables(first);
  const b = tables(second);
  const lines: string[] = [];
  for (const [table, chains] of a) {
    const merged = new Map([...chains, ...(b.get(table) ?? new Map<string, string[]>())]);
    lines.push(table, ...[...merged.keys()].map((c) => `:${c} - [0:0]`), ...[...merged.values()].flat(), 'COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

test('the chains an earlier render left behind (--noflush) are ignored: the services of the last render import', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-noflush-'));
  try {
    const full = await readFile(join(fixturesDir(), 'iptables', 'mixed', 'config.yaml'), 'utf8');
    // The same config without its first service, so every later backend id moves down by three.
    const less = full.slice(0, full.indexOf('  - name: web')) + full.slice(full.indexOf('  - name: wrr'));
    const render = async (text: string): Promise<string> => {
      const file = join(dir, `c${text.length}.yaml`);
      await writeFile(file, text);
      let out = '';
      t.is(await run(['render', '-f', 'iptables', '-c', file], { out: (s) => void (out += s), err: () => {} }), 0);
      return out;
    };
    const last = await render(less);
    const loaded = await runImport([noflush(await render(full), last)]);
    const fresh = await runImport([last]);
    t.is(loaded.code, EXIT.ok, loaded.err);
    t.regex(loaded.err, /ignored: chain NFTLB-B-13 is reached from no hook/);
    t.notRegex(loaded.err, /not understood/);
    t.is(loaded.out, fresh.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
