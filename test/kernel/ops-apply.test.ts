// nftlb apply/remove against the real kernel, in namespaces: serialization, atomic failure, missing nft.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';
import { listenersFor, startBackends } from './support/backends.js';
import { probe, tallyObject } from './support/client.js';
import { liveFingerprint, nftlb, ruleset, webConfig, workDir, writeConfig } from './support/ops.js';

const FOREIGN = `table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.51.100.200 tcp dport 5000 counter dnat to 198.51.100.2:8080
	}
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 198.18.0.0/15 masquerade
	}
}
table inet firewalld {
	set trusted {
		type ipv4_addr
		elements = { 203.0.113.250 }
	}
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ip saddr @trusted accept
	}
}
`;

kernelTest(
  'ten applies started together serialize: with --wait all succeed (one loads, nine are unchanged); without, the rest are busy',
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock') };
      const cfg = writeConfig(dir, 'a.yaml', webConfig(topo, [1, 2, 3]));
      const want = JSON.parse((await nftlb(topo, ['apply', '-c', cfg, '--dry-run', '--json'], env)).stdout) as {
        fingerprint: string;
      };

      const waited = await Promise.all(
        Array.from({ length: 10 }, () => nftlb(topo, ['apply', '-c', cfg, '--wait', '60'], env)),
      );
      const codes = waited.map((r) => r.exitCode).sort();
      t.deepEqual(codes, [EXIT.ok, ...Array(9).fill(EXIT.unchanged)], waited.map((r) => r.stderr).join(''));
      t.is(await liveFingerprint(topo), want.fingerprint);

      const cfgB = writeConfig(dir, 'b.yaml', webConfig(topo, [3, 2, 1]));
      const quick = await Promise.all(Array.from({ length: 10 }, () => nftlb(topo, ['apply', '-c', cfgB], env)));
      const allowed = new Set<number>([EXIT.ok, EXIT.unchanged, EXIT.lockBusy]);
      t.true(
        quick.every((r) => allowed.has(r.exitCode)),
        quick.map((r) => `${r.exitCode} ${r.stderr}`).join('\n'),
      );
      t.true(quick.some((r) => r.exitCode === EXIT.ok));
      for (const r of quick.filter((q) => q.exitCode === EXIT.lockBusy)) t.regex(r.stderr, /another nftlb apply holds/);
      for (const r of quick.filter((q) => q.exitCode !== EXIT.lockBusy))
        t.is(r.stderr.includes('rror'), false, r.stderr);
      const wantB = JSON.parse((await nftlb(topo, ['apply', '-c', cfgB, '--dry-run', '--json'], env)).stdout) as {
        fingerprint: string;
      };
      t.is(await liveFingerprint(topo), wantB.fingerprint);
      const again = await nftlb(topo, ['apply', '-c', cfgB], env);
      t.deepEqual([again.exitCode, again.stdout, again.stderr], [EXIT.unchanged, '', '']);
    });
  },
);

kernelTest(
  'an invalid config, an nft rejection at load and a missing nft leave the ruleset byte-identical',
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock') };
      await topo.nft(FOREIGN);
      const good = writeConfig(dir, 'good.yaml', webConfig(topo, [1, 1, 1]));
      t.is((await nftlb(topo, ['apply', '-c', good], env)).exitCode, EXIT.ok);
      const before = await ruleset(topo);
      t.regex(before, /nftlb fingerprint/);

      const other = writeConfig(dir, 'other.yaml', webConfig(topo, [5, 1, 1]));
      const invalid = writeConfig(dir, 'bad.yaml', webConfig(topo, [1, 1, 1]).replace('port: 80', 'port: 80000'));
      const r1 = await nftlb(topo, ['apply', '-c', invalid], env);
      t.is(r1.exitCode, EXIT.configInvalid);
      t.regex(r1.stderr, /bad\.yaml:\d+: services\[0\]\.port/);
      t.is(await ruleset(topo), before);

      // A wrapper nft that appends a rule jumping to a chain that does not exist to the script apply loads (the file
      // after -f, a named pipe): the kernel refuses the transaction (which already holds the delete of the old table).
      // apply runs no nft -c any more (the kernel checks the very transaction it commits), so only WHEN=load applies.
      const wrapper = join(dir, 'bad-nft');
      writeFileSync(
        wrapper,
        '#!/bin/sh\nif [ "$1 $WHEN" = "-f load" ] && [ -p "$2" ]; then\n' +
          '  { cat "$2"; echo "add rule inet nftlb pick jump no_such_chain"; } | /usr/sbin/nft -f -; exit $?\nfi\nexec /usr/sbin/nft "$@"\n',
      );
      chmodSync(wrapper, 0o755);
      for (const when of ['load']) {
        const r = await nftlb(topo, ['apply', '-c', other], { ...env, NFTLB_NFT: wrapper, WHEN: when });
        t.is(r.exitCode, EXIT.nftFailed, `${when}: ${r.stderr}`);
        t.regex(r.stderr, /nft refused the script; nothing was changed/);
        t.regex(
          r.stderr,
          /line \d+, beyond the script nftlb sent: Error: Could not process rule: No such file or directory\nadd rule inet nftlb pick jump no_such_chain\n/,
        );
        t.is(await ruleset(topo), before, `${when}: ruleset changed`);
      }

      const r3 = await nftlb(topo, ['apply', '-c', other], { ...env, PATH: '/usr/bin:/bin' });
      t.is(r3.exitCode, EXIT.toolMissing);
      t.is(r3.stderr.trim(), 'nftlb: nft is not installed or not on PATH');
      t.is(await ruleset(topo), before);
    });
  },
);

kernelTest('doctor names another nftlb table that balances the same VIPs (a renamed table left loaded)', async (t) => {
  await withTopology({}, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock') };
    const a = writeConfig(dir, 'a.yaml', webConfig(topo, [1, 1, 1]));
    const renamed = writeConfig(dir, 'b.yaml', `table: lb2\n${webConfig(topo, [1, 1, 1])}`);
    const other = (checks: { name: string; level: string; detail: string; fix: string | null }[]) =>
      checks.find((c) => c.name === 'other nftlb tables');
    const doctor = async (cfg: string) =>
      other(JSON.parse((await nftlb(topo, ['doctor', '-c', cfg, '--json'], env)).stdout).checks);
    t.is((await nftlb(topo, ['apply', '-c', a], env)).exitCode, EXIT.ok);
    t.like(await doctor(a), { level: 'ok', detail: 'none' });
    t.is((await nftlb(topo, ['apply', '-c', renamed], env)).exitCode, EXIT.ok);
    const warn = await doctor(renamed);
    t.is(warn?.level, 'warn');
    t.is(
      warn?.detail,
      `table inet nftlb also balances ${[topo.vip4, topo.vip6].sort().join(', ')}: both tables DNAT the same connections`,
    );
    t.is(warn?.fix, 'if this config replaced it (a renamed table): nftlb remove --table nftlb');
    t.is((await nftlb(topo, ['remove', '--table', 'nftlb'], env)).exitCode, EXIT.ok);
    t.like(await doctor(renamed), { level: 'ok', detail: 'none' });
  });
});

kernelTest('other tables stay byte-identical through apply, reload and remove; remove is idempotent', async (t) => {
  await withTopology({}, async (topo) => {
    const dir = workDir();
    const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock') };
    await topo.nft(FOREIGN);
    const foreign = async (): Promise<string[]> => [
      (await topo.exec(topo.lb, ['nft', 'list', 'table', 'ip', 'nat'])).stdout,
      (await topo.exec(topo.lb, ['nft', 'list', 'table', 'inet', 'firewalld'])).stdout,
    ];
    const start = await foreign();
    t.regex(start[0] ?? '', /dnat to 198\.51\.100\.2:8080/);
    const a = writeConfig(dir, 'a.yaml', webConfig(topo, [1, 1, 1]));
    const b = writeConfig(dir, 'b.yaml', webConfig(topo, [1, 2, 1]));
    t.is((await nftlb(topo, ['apply', '-c', a], env)).exitCode, EXIT.ok);
    t.deepEqual(await foreign(), start, 'after apply');
    t.is((await nftlb(topo, ['apply', '-c', b], env)).exitCode, EXIT.ok);
    t.deepEqual(await foreign(), start, 'after reload');
    const rm = await nftlb(topo, ['remove', '-c', b, '--json'], env);
    t.is(rm.exitCode, EXIT.ok);
    t.is((JSON.parse(rm.stdout) as { result: string }).result, 'removed');
    t.deepEqual(await foreign(), start, 'after remove');
    const tables = (await topo.exec(topo.lb, ['nft', 'list', 'tables'])).stdout;
    t.deepEqual(tables.trim().split('\n').sort(), ['table inet firewalld', 'table ip nat']);
    const again = await nftlb(topo, ['remove', '-c', b, '--json'], env);
    t.is(again.exitCode, EXIT.ok);
    t.is((JSON.parse(again.stdout) as { result: string }).result, 'absent');
    t.is(await ruleset(topo), `${start[0]}\n${start[1]}`);
  });
});

kernelTest(
  'with a $TMPDIR nftlb cannot use, apply, diff and status still work (pipes instead of files) and the loaded table balances',
  async (t) => {
    await withTopology({}, async (topo) => {
      const dir = workDir();
      await startBackends(topo, listenersFor(topo.backendV4.slice(0, 3), [8080]));
      const cfg = writeConfig(dir, 'a.yaml', webConfig(topo, [1, 1, 1]));
      writeConfig(dir, 'a-file', 'x');
      for (const tmp of [join(dir, 'missing'), join(dir, 'a-file')]) {
        await topo.exec(topo.lb, ['nft', 'flush', 'ruleset']);
        const env = { NFTLB_LOCK: join(dir, 'run', 'apply.lock'), NFTLB_STATE_DIR: join(dir, 'state'), TMPDIR: tmp };
        const applied = await nftlb(topo, ['apply', '-c', cfg], env);
        t.is(applied.exitCode, EXIT.ok, applied.stderr);
        const diff = await nftlb(topo, ['diff', '-c', cfg], env);
        t.is(diff.exitCode, EXIT.ok, diff.stderr);
        const status = await nftlb(topo, ['status', '-c', cfg, '--json'], env);
        t.is(status.exitCode, EXIT.ok, status.stderr);
        // Round robin over three backends of weight 1: 30 connections, 10 each, none failed.
        const counts = Object.values(
          tallyObject(await probe(topo, { target: topo.vip4, port: 80, proto: 'tcp', count: 30 })),
        );
        t.deepEqual(counts, [10, 10, 10], tmp);
      }
    });
  },
);
