// nftlb trace's refusals before it touches the table (the tracing itself is proven in test/kernel/trace.test.ts).
import test from 'ava';
import { EXIT } from '../../src/cli/exit-codes.js';
import { traceCommand, traceLine } from '../../src/cli/trace.js';
import type { TracedView } from '../../src/ops/trace.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

const noSignals = { on: () => undefined, off: () => undefined };
const trace = (args: string[], host = fakeSystem({})) => {
  const s = scratch(CONFIG);
  return runCommand(
    (ctx, exec) => traceCommand(ctx, exec, noSignals),
    ['-c', s.config, '--lock-file', s.lock, ...args],
    host,
    {
      NFTLB_STATE_DIR: s.dir,
    },
  );
};

test('trace refuses what names nothing: an unknown service, a client that is no address or prefix, bad bounds', async (t) => {
  const service = await trace(['--service', 'nope']);
  t.is(service.code, EXIT.usage);
  t.regex(service.stderr, /--service: no service nope in the config/);
  const client = await trace(['--client', '203.0.113.10/24']);
  t.is(client.code, EXIT.usage);
  t.regex(client.stderr, /--client: "203\.0\.113\.10\/24" has host bits set; the network is 203\.0\.113\.0\/24/);
  t.is((await trace(['--count', '0'])).code, EXIT.usage);
  t.is((await trace(['--seconds', 'x'])).code, EXIT.usage);
  // No table loaded: nothing to trace, and nothing was changed.
  const absent = await trace([]);
  t.is(absent.code, EXIT.usage);
  t.regex(absent.stderr, /table inet nftlb is not loaded: nothing to trace \(run nftlb apply\)/);
});

test('traceLine: client -> VIP:port -> service -> selector value -> backend -> NAT address', (t) => {
  const base: TracedView = {
    traceId: '1',
    family: 4,
    protocol: 'tcp',
    client: { address: '203.0.113.10', port: 40000 },
    vip: { address: '203.0.113.1', port: 80 },
    service: 'web',
    scheduler: 'maglev',
    selector: {
      kind: 'scheduler',
      expression: 'jhash ip saddr mod 4093 seed 0x1 offset 1048576',
      value: 17,
      mark: 0x100011,
    },
    backend: { address: '198.51.100.3', port: 8080 },
    nat: { address: '198.51.100.1', port: 40000 },
    outcome: 'forwarded',
    by: null,
  };
  t.is(
    traceLine(base),
    '203.0.113.10:40000 -> 203.0.113.1:80 tcp -> web -> maglev 17 (mark 0x00100011) -> 198.51.100.3:8080 -> 198.51.100.1:40000',
  );
  t.is(
    traceLine({
      ...base,
      family: 6,
      client: { address: '2001:db8:1::10', port: 5000 },
      vip: { address: '2001:db8:1::1', port: 80 },
      selector: { kind: 'persistence', mark: 4 },
      backend: { address: '2001:db8:2::2', port: 8080 },
      outcome: 'dropped',
      by: 'ip6 filter FORWARD',
    }),
    '[2001:db8:1::10]:5000 -> [2001:db8:1::1]:80 tcp -> web -> persistence -> [2001:db8:2::2]:8080 -> dropped (ip6 filter FORWARD)',
  );
  t.is(
    traceLine({ ...base, selector: null, backend: null, nat: null, outcome: 'no-backend', by: 'inet nftlb guard_pre' }),
    '203.0.113.10:40000 -> 203.0.113.1:80 tcp -> web -> no backend up (inet nftlb guard_pre)',
  );
});
