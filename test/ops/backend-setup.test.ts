// nftlb backend-setup: the exact commands for one DSR backend, per family; refusal of an address that is no DSR backend.
import test from 'ava';
import { backendSetupCommand } from '../../src/cli/backend-setup.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { fakeSystem } from '../support/fake-system.js';
import { runCommand, scratch } from '../support/run-command.js';

const s = scratch(`services:
  - name: dns
    vip: [203.0.113.53, "2001:db8:1::53"]
    port: 53
    protocol: [udp, tcp]
    forwarding: dsr
    interface: eth1
    scheduler: maglev
    backends:
      - { address: 198.51.100.53 }
      - { address: "2001:db8:2::53" }
  - name: web
    vip: 203.0.113.80
    port: 80
    forwarding: dsr
    interface: eth1
    scheduler: source-hash
    backends:
      - { address: 198.51.100.53 }
  - name: nat
    vip: 203.0.113.1
    port: 80
    backends:
      - { address: 198.51.100.60 }
`);
const run = (...args: string[]) => runCommand(backendSetupCommand, ['-c', s.config, ...args], fakeSystem());
const commands = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

test('an IPv4 backend of two DSR services: both VIPs on lo, the ARP sysctls on all and its interface', async (t) => {
  const r = await run('--backend', '198.51.100.53', '--interface', 'ens3');
  t.is(r.code, EXIT.ok, r.stderr);
  t.deepEqual(commands(r.stdout), [
    'set -e',
    'ip address replace 203.0.113.53/32 dev lo',
    'ip address replace 203.0.113.80/32 dev lo',
    'sysctl -w net.ipv4.conf.all.arp_ignore=1',
    'sysctl -w net.ipv4.conf.all.arp_announce=2',
    'sysctl -w net.ipv4.conf.ens3.arp_ignore=1',
    'sysctl -w net.ipv4.conf.ens3.arp_announce=2',
  ]);
  t.regex(r.stdout, /# Service dns must listen on 203\.0\.113\.53 \(or on every address\), tcp and udp port 53\./);
  const j = await run('--backend', '198.51.100.53', '--json');
  t.deepEqual((JSON.parse(j.stdout) as { services: string[] }).services, ['dns', 'web']);
});

test('an IPv6 backend: the VIP on lo, no sysctl (neighbour discovery needs none)', async (t) => {
  const r = await run('--backend', '2001:0db8:2::0053');
  t.is(r.code, EXIT.ok, r.stderr);
  t.deepEqual(commands(r.stdout), ['set -e', 'ip address replace 2001:db8:1::53/128 dev lo']);
});

test('an address that is no DSR backend, or no address, is a usage error', async (t) => {
  for (const a of ['198.51.100.60', '198.51.100.99', 'eth0']) {
    const r = await run('--backend', a);
    t.is(r.code, EXIT.usage, a);
    t.is(r.stdout, '');
  }
  t.is((await run('--backend', '198.51.100.53', '--interface', 'a b')).code, EXIT.usage);
  t.is((await run()).code, EXIT.usage, '--backend is required');
});
