import test from 'ava';
import { parseRuleCounters, readRuleCounters, RULE_COUNTERS_PROGRAM } from '../../src/system/rule-counters.js';
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
