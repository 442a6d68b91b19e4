// Persistence across `nftlb apply`: changes to another service, weights, an added backend and a reordered config
// (backend ids move) keep every entry whose backend is still there; a drained backend's clients move once.
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { listenersFor, startBackends } from './support/backends.js';
import { kernelTest } from './support/kernel-test.js';
import { nftlb, workDir, writeConfig } from './support/ops.js';
import { landing, liveEntries, sticky } from './support/persistence.js';
import { withTopology } from './support/topology.js';

type Be = { address: string; weight?: number; state?: string };

// web (round robin with persistence) on port 80 and `other` (no persistence) on port 81, in the given order.
const config = (web: Be[], other: { port: number; weight: number }, otherFirst = false): string => {
  const be = (b: Be): string =>
    `      - { address: ${b.address}, port: 8080${b.weight ? `, weight: ${b.weight}` : ''}${b.state ? `, state: ${b.state}` : ''} }`;
  const svcWeb = [
    '  - name: web',
    '    vip: 203.0.113.1',
    '    port: 80',
    '    persistence: {}',
    '    backends:',
    ...web.map(be),
  ];
  const svcOther = [
    '  - name: other',
    '    vip: 203.0.113.1',
    `    port: ${other.port}`,
    '    backends:',
    `      - { address: 198.51.100.5, port: 8080, weight: ${other.weight} }`,
    '      - { address: 198.51.100.2, port: 8080 }',
  ];
  return ['services:', ...(otherFirst ? [...svcOther, ...svcWeb] : [...svcWeb, ...svcOther]), ''].join('\n');
};

kernelTest('kernel persistence: nftlb apply keeps the entries whose backend is still there', async (t) => {
  await withTopology({ backends4: 4, backends6: 0, clients: 20 }, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
    await startBackends(topo, listenersFor(topo.backendV4, [8080]));
    const [a, b, c, d] = topo.backendV4 as [string, string, string, string];
    let step = 0;
    const apply = async (text: string, persistence: string | null): Promise<void> => {
      const file = writeConfig(dir, `c${step++}.yaml`, text);
      const r = await nftlb(topo, ['apply', '--json', '-c', file], env);
      t.is(r.exitCode, EXIT.ok, r.stderr);
      t.is((JSON.parse(r.stdout) as { persistence?: string }).persistence ?? null, persistence, text);
    };
    const where = async (): Promise<Map<string, string>> =>
      sticky(await landing(topo, { target: topo.vip4, port: 80, sources: topo.clientV4, rounds: 10 }));

    await apply(config([{ address: a }, { address: b }, { address: c }], { port: 81, weight: 1 }), null);
    const first = await where();
    t.is(new Set(first.values()).size, 3, 'round robin spread the 20 clients');
    t.is((await liveEntries(topo, 'persist4')).length, 20);

    await apply(config([{ address: a }, { address: b }, { address: c }], { port: 82, weight: 3 }), 'kept');
    t.deepEqual(await where(), first, 'another service changed');
    // The table emptied in place carries its fingerprint in a chain: the same config again is a no-op.
    const again = await nftlb(topo, ['apply', '-c', join(dir, `c${step - 1}.yaml`)], env);
    t.is(again.exitCode, EXIT.unchanged, again.stderr);
    await apply(config([{ address: a, weight: 3 }, { address: b }, { address: c }], { port: 82, weight: 3 }), 'kept');
    t.deepEqual(await where(), first, 'a weight changed');
    await apply(
      config([{ address: a, weight: 3 }, { address: d }, { address: b }, { address: c }], { port: 82, weight: 3 }),
      'kept',
    );
    t.deepEqual(await where(), first, 'a backend added (before others: their ids moved)');
    await apply(
      config(
        [{ address: c }, { address: b }, { address: d }, { address: a, weight: 3 }],
        { port: 82, weight: 3 },
        true,
      ),
      'kept',
    );
    t.deepEqual(await where(), first, 'services and backends reordered: every backend id moved');
    t.is((await liveEntries(topo, 'persist4')).length, 20);

    // Drained: its clients get a fresh pick on their next connection and keep it; the others stay.
    await apply(
      config(
        [{ address: c }, { address: b, state: 'drain' }, { address: d }, { address: a, weight: 3 }],
        { port: 82, weight: 3 },
        true,
      ),
      'kept',
    );
    const drained = await where();
    for (const [client, backend] of first) {
      if (backend === `${b}:8080`) t.not(drained.get(client), backend, `${client} left the drained backend`);
      else t.is(drained.get(client), backend, `${client} stayed`);
    }
    // Back up: nobody moves back, the entries were replaced.
    await apply(
      config(
        [{ address: c }, { address: b }, { address: d }, { address: a, weight: 3 }],
        { port: 82, weight: 3 },
        true,
      ),
      'kept',
    );
    t.deepEqual(await where(), drained, 'entries replaced after the drain stay replaced');

    // A config without persistence replaces the table whole and drops the entries.
    await apply(config([{ address: a }], { port: 82, weight: 3 }).replace('    persistence: {}\n', ''), 'dropped');
    t.deepEqual(await liveEntries(topo, 'persist4'), []);
  });
});
