// doctor's DSR checks against the fake host: interface present, netdev fwd probe, VIP on this host, another host
// answering ARP for the VIP (arping's duplicate address detection), and what a missing arping or interface gives.
import test from 'ava';
import { doctorCommand } from '../../src/cli/doctor.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { fakeSystem } from '../support/fake-system.js';
import { runCommand, scratch } from '../support/run-command.js';

const CONFIG = `services:
  - name: dns
    vip: [203.0.113.53, "2001:db8:1::53"]
    port: 53
    protocol: udp
    forwarding: dsr
    interface: eth1
    scheduler: maglev
    backends:
      - { address: 198.51.100.53 }
      - { address: "2001:db8:2::53" }
`;

type Check = { name: string; level: string; detail: string; fix: string | null };

async function doctor(o: { arping?: { exitCode: number; stdout: string }; noArping?: boolean; iface?: boolean }) {
  const s = scratch(CONFIG);
  const exec = fakeSystem({ missing: o.noArping ? ['arping'] : [] });
  for (const tool of ['flock', 'conntrack'])
    exec.outputs.set(`${tool} --version`, { exitCode: 0, stdout: `${tool} 1.0\n`, stderr: '' });
  exec.outputs.set('ip -o address show to 203.0.113.53/32', {
    exitCode: 0,
    stdout: '3: eth1    inet 203.0.113.53/32 scope global eth1\n',
    stderr: '',
  });
  exec.outputs.set('ip -o address show to 2001:db8:1::53/128', { exitCode: 0, stdout: '', stderr: '' });
  if (o.arping !== undefined) exec.outputs.set('arping -D -c 2 -w 3 -I eth1 203.0.113.53', { ...o.arping, stderr: '' });
  const proc = async (p: string): Promise<string | null> =>
    p === 'sys/net/ipv4/conf/eth1/arp_ignore' && o.iface !== false ? '0' : p.includes('forward') ? '1' : null;
  const r = await runCommand(
    (ctx, e) => doctorCommand(ctx, e, proc, '/nonexistent/nftlb.yaml'),
    ['-c', s.config, '--json'],
    exec,
  );
  const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks.filter((c) => c.name.startsWith('dsr:'));
  return { code: r.code, checks, exec };
}

test('doctor -c: a sound DSR side gives ok lines, and a VIP that is not local a warning', async (t) => {
  const { code, checks, exec } = await doctor({
    arping: { exitCode: 0, stdout: 'Sent 2 probes (2 broadcast(s))\nReceived 0 response(s)\n' },
  });
  t.is(code, EXIT.ok);
  t.deepEqual(
    checks.map((c) => [c.name, c.level]),
    [
      ['dsr: interface eth1', 'ok'],
      ['dsr: kernel: netdev fwd on eth1', 'ok'],
      ['dsr: VIP 203.0.113.53 on this host', 'ok'],
      ['dsr: VIP 203.0.113.53 answered by another host on eth1', 'ok'],
      ['dsr: VIP 2001:db8:1::53 on this host', 'warn'],
    ],
  );
  // The probe is checked by nft, never loaded.
  const probe = exec.transactions.find((x) => x.script.includes('nftlb_doctor_dsr'))!;
  t.true(probe.check);
  t.regex(
    probe.script,
    /type filter hook ingress device "eth1" priority filter;[\s\S]*fwd ip to meta mark map @b device "eth1"/,
  );
});

test('doctor -c: another host answering ARP for the VIP is a warning naming its MAC and the fix', async (t) => {
  const { code, checks } = await doctor({
    arping: { exitCode: 1, stdout: 'Unicast reply from 203.0.113.53 [86:3D:29:4E:7E:4E]  0.551ms\n' },
  });
  t.is(code, EXIT.ok);
  const c = checks.find((x) => x.name.includes('answered'))!;
  t.is(c.level, 'warn');
  t.regex(c.detail, /answered by 86:3d:29:4e:7e:4e/);
  t.regex(c.fix ?? '', /nftlb backend-setup/);
});

test('doctor -c: a missing interface is a blocker; a missing arping a warning with the package', async (t) => {
  const missing = await doctor({ iface: false, noArping: true });
  t.is(missing.code, EXIT.blocked);
  t.like(missing.checks[0], { name: 'dsr: interface eth1', level: 'fail' });
  t.like(
    missing.checks.find((c) => c.name.includes('answered')),
    { level: 'warn', fix: 'apt-get install iputils-arping' },
  );
});
