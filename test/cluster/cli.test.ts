import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../support/cli.js';

const ECMP = 'fixtures/cluster/ecmp-dsr/config.yaml';
const VRRP = 'fixtures/cluster/vrrp-nat/config.yaml';
const PLAIN = 'fixtures/examples/smtp-pair/config.yaml';
const dir = (): string => mkdtempSync(join(tmpdir(), 'nftlb-cluster-cli-'));
const env = (o: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, NFTLB_STATE_DIR: dir(), ...o });

test('render --format bird|keepalived|conntrackd: the node from --node or NFTLB_NODE; refused for the other mode', async (t) => {
  const bird = await cli(['render', '-c', ECMP, '-f', 'bird', '--node', 'lb2'], env());
  t.is(bird.code, 0, bird.stderr);
  t.regex(bird.stdout, /^router id 198\.51\.100\.12;$/m);
  t.regex(bird.stdout, /^\tlocal 198\.51\.100\.12 as 64512;$/m);
  const byEnv = await cli(['render', '-c', ECMP, '-f', 'bird'], env({ NFTLB_NODE: 'lb1' }));
  t.regex(byEnv.stdout, /^router id 198\.51\.100\.11;$/m);
  const d = dir();
  const ka = await cli([
    'render',
    '-c',
    VRRP,
    '-f',
    'keepalived',
    '--node',
    'lb1',
    '--cluster-dir',
    d,
    '--program',
    '/opt/nftlb',
  ]);
  t.is(ka.code, 0, ka.stderr);
  t.regex(
    ka.stdout,
    new RegExp(
      `notify_backup "/opt/nftlb cluster notify backup -c /\\S+/vrrp-nat/config.yaml --node lb1 --cluster-dir ${d}"`,
    ),
  );
  const ct = await cli(['render', '-c', VRRP, '-f', 'conntrackd', '--node', 'lb2', '--cluster-dir', d]);
  t.regex(ct.stdout, new RegExp(`Path ${d}/conntrackd.ctl`));
  t.regex(ct.stdout, /IPv4_Destination_Address 198\.18\.3\.1/);

  const wrong = await cli(['render', '-c', VRRP, '-f', 'bird', '--node', 'lb1']);
  t.is(wrong.code, 2);
  t.regex(
    wrong.stderr,
    /--format bird renders the bird configuration of a cluster in mode ecmp; the cluster's mode is vrrp/,
  );
  t.is(wrong.stdout, '');
  const none = await cli(['render', '-c', PLAIN, '-f', 'keepalived', '--node', 'lb1']);
  t.is(none.code, 2);
  t.regex(none.stderr, /no cluster section/);
  const noNode = await cli(['render', '-c', ECMP, '-f', 'bird'], env({ NFTLB_NODE: 'web9' }));
  t.is(noNode.code, 2);
  t.regex(noNode.stderr, /web9 is no node of the cluster \(nodes: lb1, lb2\)/);
  // The nft script of a cluster config is the same on every node.
  const a = await cli(['render', '-c', ECMP], env({ NFTLB_NODE: 'lb1' }));
  const b = await cli(['render', '-c', ECMP], env({ NFTLB_NODE: 'lb2' }));
  t.is(a.stdout, b.stdout);
});

test('which: one line per client, JSON, refusals with their exit codes', async (t) => {
  const r = await cli(['which', '-c', ECMP, '--service', 'web', '198.18.0.10:40000', '198.18.0.11:40001'], env());
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^198\.18\.0\.10:40000 -> 203\.0\.113\.1:80: 198\.51\.100\.2\d:80 \(id \d, slot \d+\)$/m);
  t.is(r.stdout.split('\n').length, 3);
  const j = await cli(['which', '-c', ECMP, '--service', 'web', '--json', '198.18.0.10:40000'], env());
  t.like(JSON.parse(j.stdout), { command: 'which', service: 'web', scheduler: 'maglev', fields: ['saddr', 'sport'] });
  const rr = await cli(['which', '-c', VRRP, '--service', 'web', '198.18.0.10'], env());
  t.is(rr.code, 5);
  t.regex(rr.stderr, /service web uses round-robin, which has no offline answer/);
  const noPort = await cli(['which', '-c', ECMP, '--service', 'web', '198.18.0.10'], env());
  t.is(noPort.code, 2);
  const noService = await cli(['which', '-c', ECMP, '--service', 'nope', '198.18.0.10:1'], env());
  t.is(noService.code, 2);
  t.regex(noService.stderr, /no service nope in the config \(services: web\)/);
  const bad = await cli(['which', '-c', ECMP, '--service', 'web', 'client-a'], env());
  t.is(bad.code, 2);
});

test('cluster notify: usage without a vrrp cluster; conntrackd missing is exit 7 with the state recorded', async (t) => {
  const ecmp = await cli(['cluster', 'notify', 'master', '-c', ECMP, '--node', 'lb1']);
  t.is(ecmp.code, 2);
  t.regex(ecmp.stderr, /has no cluster section in mode vrrp/);
  const d = dir();
  const r = await cli(['cluster', 'notify', 'backup', '-c', VRRP, '--node', 'lb1', '--cluster-dir', d], {
    ...process.env,
    NFTLB_CONNTRACKD: join(d, 'no-such-conntrackd'),
  });
  t.is(r.code, 7, r.stderr);
  t.regex(r.stderr, /no-such-conntrackd is not installed/);
  t.like(JSON.parse(readFileSync(join(d, 'nftlb.vrrp.json'), 'utf8')), {
    state: 'backup',
    failed: ['shorten', 'request'],
  });
  const bad = await cli(['cluster', 'notify', 'primary', '-c', VRRP, '--node', 'lb1']);
  t.is(bad.code, 2);
});
