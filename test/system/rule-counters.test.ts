import test from 'ava';
import { parseRuleCounters, readRuleCounters, RULE_COUNTERS_PROGRAM } from '../../src/system/rule-counters.js';
import { PERSIST_NAMES } from '../../src/nft/persistence.js';
import { entriesOfElements, entriesOfJson } from '../../src/nft/persistence-entries.js';
import { parseSetElements } from '../../src/system/set-elements.js';
import { fakeSystem } from '../support/fake-system.js';

test('parseRuleCounters sums each chain counters; anything but whole lines ending with done is null', (t) => {
  const m = parseRuleCounters('svc_web_v4\t7\t420\nsvc_web_v4\t3\t180\nforward_filter\t0\t0\ndone\n');
  t.deepEqual(
    [...m!],
    [
      ['svc_web_v4', { packets: 10, bytes: 600 }],
      ['forward_filter', { packets: 0, bytes: 0 }],
    ],
  );
  t.deepEqual([...parseRuleCounters('done\n')!], [], 'a table without counters');
  t.is(parseRuleCounters('svc_web_v4\t7\t420\n'), null, 'cut short: no done');
  t.is(parseRuleCounters('svc_web_v4\t7\t420\ndone'), null, 'no final line feed');
  t.is(parseRuleCounters('svc_web_v4\t7\ndone\n'), null, 'a field missing');
  t.is(parseRuleCounters('svc web\t7\t420\ndone\n'), null, 'a name nft could not have printed');
  t.is(parseRuleCounters('svc_web_v4\t-7\t420\ndone\n'), null);
  t.is(parseRuleCounters('error 2\n'), null);
});

test('readRuleCounters asks perl with the family number and the table name; asks again after an interrupted dump', async (t) => {
  const exec = fakeSystem();
  const host = exec.host('/tmp/nftlb-rule-counters');
  exec.json.set(
    'netdev nftlb_dsr',
    JSON.stringify({ nftables: [{ rule: { chain: 'svc_dns_v4', expr: [{ counter: { packets: 2, bytes: 9 } }] } }] }),
  );
  const m = await readRuleCounters(host, { family: 'netdev', name: 'nftlb_dsr' as never });
  t.deepEqual([...m!], [['svc_dns_v4', { packets: 2, bytes: 9 }]]);
  const call = exec.calls.find((c) => c.cmd === 'perl')!;
  t.deepEqual(call.args, ['-e', RULE_COUNTERS_PROGRAM, '5', 'nftlb_dsr']);

  // Exit 6: the kernel marked the dump interrupted (a transaction during it): asked again, three times at most.
  let tries = 0;
  exec.outputs.set(`perl -e ${RULE_COUNTERS_PROGRAM} 1 nftlb`, { exitCode: 6, stdout: '', stderr: '' });
  const run = exec.run.bind(exec);
  exec.run = async (cmd, args, input) => {
    if (cmd === 'perl' && args[1] === RULE_COUNTERS_PROGRAM) tries++;
    return run(cmd, args, input);
  };
  t.is(await readRuleCounters(host, { family: 'inet', name: 'nftlb' as never }), null);
  t.is(tries, 3);
  // Any other failure: null at once (the caller lists the table with nft).
  tries = 0;
  exec.outputs.set(`perl -e ${RULE_COUNTERS_PROGRAM} 1 nftlb`, { exitCode: 7, stdout: '', stderr: '' });
  t.is(await readRuleCounters(host, { family: 'inet', name: 'nftlb' as never }), null);
  t.is(tries, 1);
  exec.missing.add('perl');
  t.is(await readRuleCounters(host, { family: 'inet', name: 'nftlb' as never }), null);
});

test('parseSetElements: key and data bytes and milliseconds by set; anything else is null', (t) => {
  const m = parseSetElements('persist4\t10000000cb007107\t0fb21100\t59992\npersist_tags\t01000000\t-\t-\ndone\n', [
    'persist4',
    'persist6',
    'persist_tags',
  ]);
  t.deepEqual(m?.get('persist4'), [
    { key: Buffer.from('10000000cb007107', 'hex'), data: Buffer.from('0fb21100', 'hex'), expiresMs: 59992 },
  ]);
  t.deepEqual(m?.get('persist6'), [], 'a set that is not there has no elements');
  t.deepEqual(m?.get('persist_tags'), [{ key: Buffer.from('01000000', 'hex'), data: null, expiresMs: null }]);
  t.is(parseSetElements('other\t00\t-\t-\ndone\n', ['persist4']), null, 'a set not asked for');
  t.is(parseSetElements('persist4\t0\t-\t-\ndone\n', ['persist4']), null, 'half a byte');
  t.is(parseSetElements('persist4\t00\t-\t-\n', ['persist4']), null, 'cut short');
});

test('entriesOfElements reads the kernel bytes of each entry map as entriesOfJson reads nft listing of them', (t) => {
  // A mark is kept in the host's byte order, addresses in the network's.
  const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const mark = (n: number): number[] => {
    const b = Buffer.alloc(4);
    if (le) b.writeUInt32LE(n);
    else b.writeUInt32BE(n);
    return [...b];
  };
  const el = (key: number[], tag: number, ms: number | null) => ({
    key: Uint8Array.from(key),
    data: Uint8Array.from(mark(tag)),
    expiresMs: ms,
  });
  const v4 = entriesOfElements(PERSIST_NAMES.v4, [
    el([...mark(16), 203, 0, 113, 7], 0x11b20f, 59992),
    el([...mark(16), 203, 0, 113], 1, null), // not an entry nftlb writes: skipped
  ]);
  const json = entriesOfJson([
    { map: { name: 'persist4', elem: [[{ elem: { val: { concat: [16, '203.0.113.7'] }, expires: 59 } }, 0x11b20f]] } },
  ]);
  t.deepEqual(v4, json);
  t.deepEqual(entriesOfElements(PERSIST_NAMES.v4daddr, [el([...mark(3), 198, 51, 100, 9, 203, 0, 113, 1], 7, 1000)]), [
    { map: PERSIST_NAMES.v4daddr, mark: 3, client: '198.51.100.9', vip: '203.0.113.1', tag: 7, expires: 1 },
  ]);
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 5];
  t.deepEqual(
    entriesOfElements(PERSIST_NAMES.v6, [el([...mark(4), ...v6], 2, null)]),
    entriesOfJson([
      { map: { name: 'persist6', elem: [[{ elem: { val: { concat: [4, '0x20010db80001000000000005'] } } }, 2]] } },
    ]),
  );
  t.deepEqual(entriesOfElements(PERSIST_NAMES.tags, [el(mark(1), 2, null)]), [], 'not an entry map');
});
