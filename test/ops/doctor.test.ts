import test from 'ava';
import { fakeSystem } from '../support/fake-system.js';
import { doctorCommand } from '../../src/cli/doctor.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { runCommand } from '../support/run-command.js';

// A fake host: which tools exist, which nft -c probes fail, and what /proc says.
function host(o: { missing?: string[]; refuse?: RegExp; legacyNat?: string; proc?: Record<string, string> }) {
  const exec = fakeSystem({ missing: o.missing ?? [] });
  for (const tool of ['flock', 'conntrack'])
    exec.outputs.set(`${tool} --version`, { exitCode: 0, stdout: `${tool} 1.0\n`, stderr: '' });
  exec.outputs.set('iptables-legacy-save -t nat', { exitCode: 0, stdout: o.legacyNat ?? '', stderr: '' });
  exec.refuse = (script) =>
    o.refuse?.test(script) === true
      ? '/dev/stdin:3:2-9: Error: Could not process rule: No such file or directory\n'
      : undefined;
  const proc = async (p: string): Promise<string | null> => o.proc?.[p] ?? null;
  // No default config: these checks are the host's (the DSR ones have their own tests).
  return (args: string[]) => runCommand((ctx, e) => doctorCommand(ctx, e, proc, '/nonexistent/nftlb.yaml'), args, exec);
}

const GOOD = {
  'sys/net/ipv4/ip_forward': '1',
  'sys/net/ipv6/conf/all/forwarding': '1',
  'sys/net/netfilter/nf_conntrack_acct': '1',
};

test('doctor: everything present exits 0 with only ok lines', async (t) => {
  const r = await host({ proc: GOOD })([]);
  t.is(r.code, EXIT.ok);
  t.true(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .every((l) => l.startsWith('ok ')),
    r.stdout,
  );
});

test('doctor: warnings (forwarding off, no conntrack, legacy nat rules) keep exit 0 and name the fix', async (t) => {
  const r = await host({
    missing: ['conntrack'],
    proc: { ...GOOD, 'sys/net/ipv4/ip_forward': '0', 'net/ip_tables_names': 'filter\nnat' },
    legacyNat:
      '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 203.0.113.1/32 -p tcp -j DNAT --to-destination 198.51.100.2\nCOMMIT\n',
  })(['--json']);
  t.is(r.code, EXIT.ok);
  const d = JSON.parse(r.stdout) as {
    ok: boolean;
    checks: { name: string; level: string; fix: string | null; detail: string }[];
  };
  t.true(d.ok);
  const by = new Map(d.checks.map((c) => [c.name, c]));
  t.is(by.get('IPv4 forwarding')?.level, 'warn');
  t.regex(by.get('IPv4 forwarding')?.fix ?? '', /sysctl -w net\.ipv4\.ip_forward=1/);
  t.is(by.get('conntrack')?.level, 'warn');
  t.is(by.get('iptables-legacy-save')?.level, 'warn');
  t.regex(by.get('iptables-legacy-save')?.detail ?? '', /1 legacy nat rule.*-j DNAT/);
});

test('doctor: a missing nft, flock or kernel feature is a blocker (exit 10)', async (t) => {
  const noNft = await host({ missing: ['nft'], proc: GOOD })(['--json']);
  t.is(noNft.code, EXIT.blocked);
  const d = JSON.parse(noNft.stdout) as { ok: boolean; checks: { name: string; level: string }[] };
  t.false(d.ok);
  t.deepEqual(d.checks[0], {
    name: 'nft',
    level: 'fail',
    detail: 'nft: not installed',
    fix: 'apt-get install nftables (or set NFTLB_NFT to the nft binary)',
  });
  t.false(
    d.checks.some((c) => c.name.startsWith('kernel:')),
    'no probes without nft',
  );
  const noHash = await host({ refuse: /symhash/, proc: GOOD })([]);
  t.is(noHash.code, EXIT.blocked);
  t.regex(noHash.stdout, /^fail {2}kernel: symhash: .*No such file or directory\n {6}fix: /m);
  const noFlock = await host({ missing: ['flock'], proc: GOOD })([]);
  t.is(noFlock.code, EXIT.blocked);
  t.regex(noFlock.stdout, /^fail {2}flock: not installed/m);
});
