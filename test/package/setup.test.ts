import test from 'ava';
import { execa } from 'execa';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// What scripts/setup.sh asks apt-get for, and which make targets ask for what: building, installing and packaging
// nftlb install only what it needs to build and run, never the daemons and tools of the tests. setup.sh runs as root in
// a user namespace (unshare --map-root-user) with a PATH that holds only the programs it uses, a node and an npm that
// do nothing, and an apt-get that writes down its arguments; its policy-rc.d goes to a tmpfs over /usr/sbin in a
// private mount namespace. Nothing is installed and the host's /usr/sbin is not touched.

const dir = mkdtempSync(join(tmpdir(), 'nftlb-setup-'));
const bin = join(dir, 'bin');
const log = join(dir, 'apt-get.log');
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function fake(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

test.before(async () => {
  mkdirSync(bin);
  for (const tool of ['dirname', 'id', 'sort', 'grep', 'chmod', 'rm']) {
    const path = (await execa('sh', ['-c', `command -v ${tool}`])).stdout;
    symlinkSync(path, join(bin, tool));
  }
  fake('apt-get', `echo "$*" >> '${log}'`);
  for (const tool of ['node', 'npm', 'promtool']) fake(tool, 'exit 0');
});

// The packages `scripts/setup.sh PURPOSE` installs on this fake machine, or a reason it could not run.
async function installs(purpose: string): Promise<{ packages: string[] } | { skip: string }> {
  rmSync(log, { force: true });
  const r = await execa(
    'unshare',
    [
      '--map-root-user',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount -t tmpfs tmpfs /usr/sbin && exec env -i PATH='${bin}' "$(command -v bash)" scripts/setup.sh ${purpose}`,
    ],
    { reject: false, all: true, timeout: 60_000 },
  );
  if (r.exitCode !== 0) return { skip: `setup.sh ${purpose} in a user namespace: exit ${r.exitCode}: ${r.all}` };
  const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  const install = lines.find((l) => l.startsWith('install '));
  return { packages: install?.split(' ').filter((w) => !w.startsWith('-') && w !== 'install') ?? [] };
}

// Every program PATH lacks here is missing; procps is asked for only when /bin/kill is missing too.
const procps = existsSync('/bin/kill') ? [] : ['procps'];
const BUILD = ['conntrack', 'nftables', ...procps, 'util-linux'];
const TEST_ONLY = [
  'bird2',
  'conntrackd',
  'groff-base',
  'iptables',
  'iputils-arping',
  'keepalived',
  'lintian',
  'mmdebstrap',
  'systemd',
  'ulogd2',
  'zsh',
];

test('setup.sh installs for building and running only what nftlb needs; the tests add their tools and daemons', async (t) => {
  const build = await installs('build');
  if ('skip' in build) {
    if (process.env['CI'] === 'true') t.fail(build.skip);
    else t.log(`SETUP TEST SKIPPED: ${build.skip}`);
    return;
  }
  t.deepEqual(build.packages, BUILD);
  const demo = await installs('demo');
  t.deepEqual('packages' in demo && demo.packages, ['conntrack', 'iproute2', 'nftables', ...procps, 'util-linux']);
  const all = await installs('test');
  t.deepEqual('packages' in all && all.packages, [...BUILD, 'iproute2', ...TEST_ONLY].sort());
  t.is((await execa('bash', ['scripts/setup.sh', 'tests'], { reject: false })).exitCode, 2);
});

test('make build, install and deb set up for building; demo and the test targets for themselves', async (t) => {
  // make -n prints the commands of a target and its prerequisites without running them.
  const setup = async (target: string) =>
    (await execa('make', ['-n', target])).stdout.split('\n').filter((l) => l.includes('scripts/setup.sh'));
  for (const target of ['build', 'install', 'deb', 'lint'])
    t.deepEqual(await setup(target), ['scripts/setup.sh build']);
  t.deepEqual(await setup('demo'), ['scripts/setup.sh demo', 'scripts/setup.sh build']);
  for (const target of ['test', 'test-unit', 'test-kernel', 'golden', 'bench'])
    t.deepEqual(await setup(target), ['scripts/setup.sh test', 'scripts/setup.sh build'], target);
  t.regex(readFileSync('.ci/run', 'utf8'), /^scripts\/setup\.sh test$/m);
});
