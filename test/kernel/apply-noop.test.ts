// apply's no-op proof against the real kernel, in namespaces: the ruleset generation read over netlink moves with every
// transaction, so a hand edit of an element or a rule, a table replaced or deleted by hand, and a change to another
// table are noticed and the config is loaded again (the ruleset then is exactly what the config gives).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology, type Topology } from './support/topology.js';
import { liveFingerprint, nftlb, ruleset, webConfig, workDir, writeConfig } from './support/ops.js';
import { listenersFor, startBackends } from './support/backends.js';
import { withDsrTopology } from './support/dsr-topology.js';
import { landing, liveEntries, sticky, waitForEntries, type LiveEntry } from './support/persistence.js';
import { GETGEN_PROGRAM } from '../../src/system/genid.js';

kernelTest(
  'a no-op apply is proven by the ruleset generation; a hand edit or a replaced table is noticed and loaded over',
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
      const cfg = writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 3]));
      const apply = () => nftlb(topo, ['apply', '-c', cfg], env);
      t.is((await apply()).exitCode, EXIT.ok);
      const loaded = await ruleset(topo);
      const unchanged = await apply();
      t.deepEqual([unchanged.exitCode, unchanged.stdout, unchanged.stderr], [EXIT.unchanged, '', '']);
      // --json too is answered by the proof alone, with the envelope the full command prints.
      const fingerprint = await liveFingerprint(topo);
      const json = await nftlb(topo, ['apply', '-c', cfg, '--json'], env);
      t.is(json.exitCode, EXIT.unchanged, json.stderr);
      t.deepEqual(JSON.parse(json.stdout), {
        command: 'apply',
        result: 'unchanged',
        exitCode: EXIT.unchanged,
        error: null,
        table: 'nftlb',
        tables: ['inet nftlb'],
        deleted: [],
        fingerprint,
        previousFingerprint: fingerprint,
        services: 2,
        warnings: [],
      });
      // Byte for byte what the full command prints (-q is not answered by the fast path: the whole program runs).
      const full = await nftlb(topo, ['apply', '-c', cfg, '--json', '-q'], env);
      t.deepEqual([full.exitCode, full.stdout], [EXIT.unchanged, json.stdout]);

      const edits: [string, string[]][] = [
        ['a backend element deleted by hand', ['delete', 'element', 'inet', 'nftlb', 'backends4', '{ 1 }']],
        ['a rule added by hand', ['add', 'rule', 'inet', 'nftlb', 'pick', 'counter']],
        ['a chain added by hand', ['add', 'chain', 'inet', 'nftlb', 'extra']],
        ['another table changed', ['add', 'table', 'ip', 'other']],
        ['the table deleted by hand', ['delete', 'table', 'inet', 'nftlb']],
      ];
      for (const [what, cmd] of edits) {
        await topo.exec(topo.lb, ['nft', ...cmd]);
        t.not(await ruleset(topo), loaded, `${what}: the edit took`);
        if (what === 'a backend element deleted by hand') {
          // The fingerprint does not see it: diff and status say nothing differs, but not without a word.
          const d = await nftlb(topo, ['diff', '-c', cfg], env);
          t.is(d.exitCode, EXIT.ok, d.stderr);
          t.regex(
            d.stderr,
            /note: the ruleset changed since apply's last load of this config .* nftlb apply loads it in full/,
          );
          const st = await nftlb(topo, ['status', '-c', cfg], env);
          t.regex(st.stdout, /live table matches the config\n {2}\(the ruleset changed since apply's last load/);
        }
        const r = await apply();
        t.is(r.exitCode, EXIT.ok, `${what}: ${r.stderr}`);
        const now = (await ruleset(topo)).replace(/table ip other \{\n\}\n?/, '');
        t.is(now.trim(), loaded.trim(), `${what}: loaded over`);
        const again = await apply();
        t.is(again.exitCode, EXIT.unchanged, `${what}: then a no-op again: ${again.stderr}`);
      }
      // A table replaced by hand with an older script of the same name.
      const old = writeConfig(dir, 'old.yaml', webConfig(topo, [3, 2, 1]));
      const script = (await nftlb(topo, ['render', '-c', old], env)).stdout;
      await topo.nft(script);
      t.is((await apply()).exitCode, EXIT.ok, 'a replaced table');
      t.is((await apply()).exitCode, EXIT.unchanged);
      // The config rewritten with the same text stays a no-op; another text is loaded.
      writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 3]));
      t.is((await apply()).exitCode, EXIT.unchanged);
      writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 4]));
      t.is((await apply()).exitCode, EXIT.ok);
      t.is((await apply()).exitCode, EXIT.unchanged);
      // A record another build of nftlb left (an upgrade: the same config may render another script) proves nothing.
      const run = join(dir, 'run');
      const record = join(
        run,
        readdirSync(run).find((f) => /^apply-.*\.noop\.json$/.test(f))!,
      );
      const text = readFileSync(record, 'utf8');
      writeFileSync(record, text.replace(/"nftlb":"[^"]*"/, '"nftlb":"0.1.0+000000000000"'));
      const upgraded = await nftlb(topo, ['apply', '-c', cfg, '-v'], env);
      t.is(upgraded.exitCode, EXIT.ok, upgraded.stderr);
      t.is((await apply()).exitCode, EXIT.unchanged, 'and the new record is its own');
    });
  },
);

// Persistence: the packet path adds entries to the dynamic maps and the kernel times them out, neither of which is a
// transaction, so neither moves the ruleset generation: apply stays a no-op and, touching nothing, keeps the entries.
// A hand edit does move it: apply loads, in place, and the entries stay.
const persistent = (topo: Topology): string =>
  [
    'services:',
    ...[
      ['web', 80, 2],
      ['mail', 25, 600],
    ].flatMap(([name, port, timeout]) => [
      `  - name: ${name}`,
      `    vip: ${topo.vip4}`,
      `    port: ${port}`,
      `    persistence: { timeout: ${timeout} }`,
      '    backends:',
      ...topo.backendV4.map((a) => `      - { address: ${a}, port: 8080 }`),
    ]),
  ].join('\n');

kernelTest(
  'persistence entries added by connections, timed out or flushed leave the no-op proven (a no-op keeps them); a hand edit reloads in place',
  async (t) => {
    await withTopology({ backends4: 3, backends6: 0, clients: 10 }, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
      await startBackends(topo, listenersFor(topo.backendV4, [8080]));
      const cfg = writeConfig(dir, 'p.yaml', persistent(topo));
      const apply = () => nftlb(topo, ['apply', '-c', cfg], env);
      t.is((await apply()).exitCode, EXIT.ok);
      const generation = async (): Promise<string> =>
        (await topo.exec(topo.lb, ['perl', '-e', GETGEN_PROGRAM])).stdout.trim();
      const g0 = await generation();
      for (const port of [80, 25])
        sticky(await landing(topo, { target: topo.vip4, port, sources: topo.clientV4, rounds: 2 }));
      // mail's entries live 600 s, web's 2 s (nft -j lists `expires` in seconds).
      const long = (es: readonly LiveEntry[]): number => es.filter((e) => (e.expires ?? 0) > 100).length;
      t.is(long(await liveEntries(topo, 'persist4')), topo.clientV4.length);
      t.is(await generation(), g0, 'entries added by the packet path are no transaction');
      const noop = await apply();
      t.deepEqual([noop.exitCode, noop.stderr], [EXIT.unchanged, '']);
      t.is(long(await liveEntries(topo, 'persist4')), topo.clientV4.length, 'the no-op kept every entry');
      // web's entries time out (bounded wait): still no transaction, still a no-op.
      const left = await waitForEntries(topo, 'persist4', (es) => es.every((e) => (e.expires ?? 0) > 100), {
        intervalMs: 200,
        tries: 150,
      });
      t.is(left.length, topo.clientV4.length, "only web's entries timed out");
      t.is(await generation(), g0, 'entries that time out are no transaction');
      t.is((await apply()).exitCode, EXIT.unchanged);
      // A hand edit: a load, in place, and the entries stay.
      await topo.exec(topo.lb, ['nft', 'add', 'chain', 'inet', 'nftlb', 'extra']);
      const load = await apply();
      t.is(load.exitCode, EXIT.ok, load.stderr);
      t.regex(load.stderr, /persistence entries kept/);
      t.is(long(await liveEntries(topo, 'persist4')), topo.clientV4.length, 'the reload kept the entries');
      t.false((await ruleset(topo)).includes('chain extra'), 'the hand edit is gone');
      t.is((await apply()).exitCode, EXIT.unchanged);
      // nftlb persistence flush removes entries (runtime state) in a transaction of its own, which carries the record.
      const flush = await nftlb(topo, ['persistence', 'flush', '-c', cfg], env);
      t.is(flush.exitCode, EXIT.ok, flush.stderr);
      t.deepEqual(await liveEntries(topo, 'persist4'), []);
      t.is((await apply()).exitCode, EXIT.unchanged, 'a flush of the entries is no change to the loaded table');
    });
  },
);

// DSR: the netdev table is proven with the inet one (the generation covers every table): a hand edit of it, or its
// deletion, is loaded over; then the no-op holds again.
kernelTest('the DSR netdev table: a hand edit or its deletion is noticed and loaded over', async (t) => {
  await withDsrTopology({ backends: 2, clients: 1, vips4: ['203.0.113.1'], vips6: [] }, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state') };
    const cfg = writeConfig(
      dir,
      'd.yaml',
      [
        'services:',
        '  - name: echo',
        `    vip: ${topo.vip4}`,
        '    port: 7',
        '    forwarding: dsr',
        '    interface: eth0',
        '    scheduler: maglev',
        '    backends:',
        ...topo.backends.map((b) => `      - { address: ${b.v4} }`),
      ].join('\n'),
    );
    const apply = () => nftlb(topo, ['apply', '-c', cfg], env);
    t.is((await apply()).exitCode, EXIT.ok);
    const loaded = await ruleset(topo);
    t.regex(loaded, /table netdev nftlb_dsr \{/);
    t.is((await apply()).exitCode, EXIT.unchanged);
    for (const [what, cmd] of [
      ['a chain added to the netdev table', ['add', 'chain', 'netdev', 'nftlb_dsr', 'extra']],
      ['the netdev table deleted', ['delete', 'table', 'netdev', 'nftlb_dsr']],
    ] as const) {
      await topo.exec(topo.lb, ['nft', ...cmd]);
      const r = await apply();
      t.is(r.exitCode, EXIT.ok, `${what}: ${r.stderr}`);
      t.is(await ruleset(topo), loaded, `${what}: loaded over`);
      t.is((await apply()).exitCode, EXIT.unchanged, `${what}: then a no-op again`);
    }
  });
});
