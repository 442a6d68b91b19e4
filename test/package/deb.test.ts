import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { join } from 'node:path';

// The Debian package end to end: scripts/deb.sh builds it (lintian: no error), a throwaway Debian 12 root made by
// mmdebstrap from the mirror this machine's apt uses installs it with apt (Debian's nodejs 18, the Depends and the
// Recommends, as a default apt does), nftlb runs there, and purge removes its state. Root only (mmdebstrap, chroot);
// with CI=true it must run. Downloads are cached in /tmp/nftlb-deb-cache; the root and the package are deleted
// afterwards, also when a test fails.

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const CACHE = '/tmp/nftlb-deb-cache';
const SUITE = 'bookworm';
const UNITS = ['nftlb.service', 'nftlb-health.service', 'nftlb-reload.service', 'nftlb-reload.timer'];

interface Fixture {
  out: string;
  deb: string;
  lintian: string;
  root: string;
  install: string;
}
let fixture: Fixture | { skip: string } | { error: string } = { skip: 'not set up' };
const made: string[] = [];

// Why the package test cannot run here, or null.
async function unavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap, chroot)';
  for (const tool of ['mmdebstrap', 'lintian', 'dpkg-deb', 'systemd-analyze'])
    if ((await execa('sh', ['-c', `command -v ${tool}`], { reject: false })).exitCode !== 0)
      return `${tool} is not installed (scripts/setup.sh test installs it as root)`;
  return null;
}

// The Debian sources this machine's apt uses (a file mmdebstrap reads as its mirror), or none: its default mirror.
function hostSources(): string[] {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'])
    if (existsSync(f) && new RegExp(`\\b${SUITE}\\b`).test(readFileSync(f, 'utf8'))) return [f];
  return [];
}

const inRoot = (root: string, cmd: string[], env: Record<string, string> = {}) =>
  execa('chroot', [root, ...cmd], {
    reject: false,
    extendEnv: false,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root', ...env },
    timeout: 120_000,
  });

test.before(async (t) => {
  const why = await unavailable();
  if (why !== null) {
    fixture = { skip: why };
    return;
  }
  try {
    const out = mkdtempSync('/tmp/nftlb-deb-out-');
    made.push(out);
    const built = await execa('scripts/deb.sh', [out], { reject: false, env: { CI: 'true' }, timeout: 300_000 });
    if (built.exitCode !== 0) throw new Error(`scripts/deb.sh failed:\n${built.stderr}`);
    const deb = built.stdout.trim().split('\n').at(-1)!;
    const root = mkdtempSync('/tmp/nftlb-deb-root-');
    made.push(root);
    mkdirSync(CACHE, { recursive: true });
    // mmdebstrap mounts /proc, /sys and /dev for its hooks and unmounts them before it returns; the root is a
    // directory. systemd is included so that systemd-analyze can check the units against a real unit tree.
    const mm = await execa(
      'mmdebstrap',
      [
        '--variant=apt',
        '--mode=root',
        '--include=systemd',
        '--skip=download/empty',
        '--skip=essential/unlink',
        `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
        `--setup-hook=sync-in ${CACHE} /var/cache/apt/archives/`,
        `--customize-hook=copy-in ${deb} /tmp`,
        `--customize-hook=chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -o APT::Install-Recommends=true /tmp/${deb.split('/').at(-1)}`,
        `--customize-hook=sync-out /var/cache/apt/archives ${CACHE}`,
        SUITE,
        root,
        ...hostSources(),
      ],
      { reject: false, stdin: 'ignore', all: true, timeout: 1_200_000 },
    );
    if (mm.exitCode !== 0) throw new Error(`mmdebstrap failed (${mm.exitCode}):\n${mm.all?.slice(-4000)}`);
    fixture = { out, deb, lintian: built.stderr, root, install: mm.all ?? '' };
  } catch (e) {
    fixture = { error: String(e) };
    t.log(String(e));
  }
});

test.after.always(async () => {
  for (const dir of made.reverse()) {
    // Anything still mounted below the root (a hook interrupted) is unmounted first; rm never leaves its file system.
    const mounts = await execa('findmnt', ['-rn', '-o', 'TARGET'], { reject: false });
    for (const m of mounts.stdout
      .split('\n')
      .filter((m) => m.startsWith(`${dir}/`))
      .reverse())
      await execa('umount', ['-l', m], { reject: false });
    await execa('rm', ['-rf', '--one-file-system', dir], { reject: false });
  }
});

// Declares a serial test on the installed root; skipped loudly where it cannot run, failed in CI.
function packageTest(title: string, fn: (t: ExecutionContext, f: Fixture) => Promise<void>): void {
  test.serial(title, async (t) => {
    if ('error' in fixture) {
      t.fail(fixture.error);
      return;
    }
    if ('skip' in fixture) {
      if (process.env['CI'] === 'true') t.fail(`the package test cannot run in CI: ${fixture.skip}`);
      else {
        console.error(`PACKAGE TEST SKIPPED: ${fixture.skip} (${t.title})`);
        t.log(`PACKAGE TEST SKIPPED: ${fixture.skip}`);
        t.pass();
      }
      return;
    }
    await fn(t, fixture);
  });
}

packageTest('make deb builds the package and lintian finds no error', async (t, f) => {
  t.regex(f.deb, new RegExp(`/nftlb_${VERSION.replace(/\./g, '\\.')}_all\\.deb$`));
  t.regex(f.lintian, /^deb: lintian: no errors/m);
  t.notRegex(f.lintian, /^E: /m);
  // Only the entry of the bundle is a script; its chunks are modules (the next test checks the files).
  t.notRegex(f.lintian, /^W: .*script-not-executable/m);
  t.log(f.lintian.trim());
});

packageTest('the control fields declare what nftlb and its units use; nothing is enabled or started', async (t, f) => {
  const field = async (name: string) => (await execa('dpkg-deb', ['-f', f.deb, name])).stdout;
  const depends = await field('Depends');
  for (const dep of [/\bnodejs \(>= 18[.\d]*\)/, /\bnftables\b/, /\bprocps\b/, /\butil-linux \(>= [\d.]+\)/])
    t.regex(depends, dep);
  t.regex(await field('Recommends'), /\bconntrack\b/);
  const control = mkdtempSync('/tmp/nftlb-deb-control-');
  made.push(control);
  await execa('dpkg-deb', ['-e', f.deb, control]);
  t.deepEqual(readFileSync(join(control, 'conffiles'), 'utf8').trim().split('\n').sort(), [
    '/etc/default/nftlb',
    '/etc/nftlb/nftlb.yaml',
  ]);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    const text = readFileSync(join(control, script), 'utf8');
    t.notRegex(
      text,
      /\b(?:systemctl|deb-systemd-helper|deb-systemd-invoke)(?:\s+-\S+)*\s+(?:enable|start|restart|reload|unmask)\b|\binvoke-rc\.d\b/,
      `${script} enables or starts a unit`,
    );
  }
});

packageTest('the files: bundle and symlink, man pages, completions, units, defaults, doc', async (t, f) => {
  const r = f.root;
  t.is((await inRoot(r, ['readlink', '-f', '/usr/bin/nftlb'])).stdout, '/usr/lib/nftlb/nftlb.mjs');
  // The bundle: its entry, executable with its hashbang, and the chunks it imports, modules without either.
  const lib = join(r, 'usr/lib/nftlb');
  const bundle = readdirSync(lib).sort();
  t.true(bundle.length > 1 && bundle.every((n) => n === 'nftlb.mjs' || /^nftlb-.+\.mjs$/.test(n)), bundle.join(' '));
  for (const name of bundle) {
    const entry = name === 'nftlb.mjs';
    t.is(readFileSync(join(lib, name), 'utf8').startsWith('#!/usr/bin/env node\n'), entry, `${name}: hashbang`);
    t.is(statSync(join(lib, name)).mode & 0o777, entry ? 0o755 : 0o644, `${name}: mode`);
  }
  for (const p of [
    '/usr/share/man/man8/nftlb.8.gz',
    '/usr/share/man/man5/nftlb.conf.5.gz',
    '/usr/share/bash-completion/completions/nftlb',
    '/usr/share/zsh/vendor-completions/_nftlb',
    '/usr/share/nftlb/nftlb.schema.json',
    '/usr/share/nftlb/grafana-dashboard.json',
    '/usr/share/doc/nftlb/copyright',
    '/usr/share/doc/nftlb/changelog.gz',
    '/usr/share/doc/nftlb/examples/nftlb.cron',
    '/etc/default/nftlb',
    '/etc/nftlb/nftlb.yaml',
    ...UNITS.map((u) => `/lib/systemd/system/${u}`),
  ])
    t.true(existsSync(join(r, p)), `${p} is not installed`);
  // The units run the binary the README and the cron example name.
  for (const u of UNITS.filter((u) => u.endsWith('.service'))) {
    const text = readFileSync(join(r, 'lib/systemd/system', u), 'utf8');
    for (const exec of text.matchAll(/^Exec(?:Start|Reload|Stop)=(\S+)/gm))
      t.true(['/usr/bin/nftlb', '/bin/kill'].includes(exec[1]!), `${u}: ${exec[0]}`);
    t.regex(text, /^EnvironmentFile=-\/etc\/default\/nftlb$/m);
  }
  t.regex(readFileSync(join(r, 'usr/share/doc/nftlb/examples/nftlb.cron'), 'utf8'), / root \/usr\/bin\/nftlb apply /);
  // man finds the installed pages (compressed) and formats them.
  const page = await inRoot(r, ['zcat', '/usr/share/man/man8/nftlb.8.gz']);
  t.is(page.stdout, readFileSync('man/nftlb.8', 'utf8').trimEnd());
});

packageTest("a fresh Debian 12 root installs it with apt and runs nftlb on Debian's Node 18", async (t, f) => {
  const node = await inRoot(f.root, ['node', '--version']);
  t.regex(node.stdout, /^v18\.\d+\.\d+$/, 'the root has Debian 12 nodejs 18');
  t.log(`Debian nodejs in the root: ${node.stdout}`);
  for (const pkg of ['nodejs', 'nftables', 'procps', 'conntrack']) {
    const q = await inRoot(f.root, ['dpkg-query', '-W', '-f', '${Status}', pkg]);
    t.is(q.stdout, 'install ok installed', `${pkg} was not installed with the package`);
  }
  const version = await inRoot(f.root, ['nftlb', '--version']);
  t.is(version.exitCode, 0, version.stderr);
  t.regex(version.stdout, new RegExp(`^${VERSION.replace(/\./g, '\\.')}\\+[0-9a-f]{12}$`));
  t.is(version.stderr, '');
  const check = await inRoot(f.root, ['nftlb', 'check']);
  t.is(check.exitCode, 0, check.stderr);
  t.regex(check.stderr, /\/etc\/nftlb\/nftlb\.yaml: ok/);
  const render = await inRoot(f.root, ['nftlb', 'render']);
  t.is(render.exitCode, 0, render.stderr);
  t.regex(render.stdout, /^#!\/usr\/sbin\/nft -f\n/);
  t.regex(render.stdout, /^table inet nftlb \{$/m);
  const json = await inRoot(f.root, ['nftlb', 'check', '--json', '-c', '/usr/share/nftlb/nftlb.schema.json']);
  t.is(json.exitCode, 3, 'a file that is not a config is refused with exit 3');
});

packageTest('systemd accepts the installed units, and none of them is enabled', async (t, f) => {
  const verify = await execa('systemd-analyze', ['verify', '--man=no', `--root=${f.root}`, ...UNITS], {
    reject: false,
  });
  t.is(verify.exitCode, 0, verify.stderr);
  t.is(verify.stderr, '');
  const enabled = await execa('systemctl', [`--root=${f.root}`, 'is-enabled', ...UNITS], { reject: false });
  t.deepEqual(enabled.stdout.split('\n'), ['disabled', 'disabled', 'static', 'disabled']);
  const links = await execa('find', [join(f.root, 'etc/systemd/system'), '-name', 'nftlb*']);
  t.is(links.stdout, '', 'a unit of nftlb was enabled');
  // The timer's re-apply runs only while nftlb.service is active, after it: once stopped (its stop removes the table),
  // the table stays removed. systemd-analyze verify above queued its start with that dependency.
  const reload = readFileSync(join(f.root, 'lib/systemd/system/nftlb-reload.service'), 'utf8').split('[Service]')[0]!;
  t.regex(reload, /^Requisite=nftlb\.service$/m);
  t.regex(reload, /^After=nftlb\.service$/m);
});

packageTest('the installed bash completion completes in the root', async (t, f) => {
  const r = await inRoot(f.root, [
    'bash',
    '--norc',
    '-c',
    'source /usr/share/bash-completion/completions/nftlb; COMP_WORDS=(nftlb ap); COMP_CWORD=1; _nftlb; echo "${COMPREPLY[@]}"',
  ]);
  t.is(r.stdout, 'apply', r.stderr);
});

packageTest('the copyright file carries the licence of every npm package in the bundle', async (t, f) => {
  const copyright = readFileSync(join(f.root, 'usr/share/doc/nftlb/copyright'), 'utf8');
  t.regex(copyright, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m);
  const paragraphs = copyright.trim().split(/\n\n/);
  for (const p of paragraphs.slice(1))
    for (const key of ['Files', 'Copyright', 'License']) t.regex(p, new RegExp(`^${key}: `, 'm'));
  // esbuild's record of the bundle's inputs: every package directory it read from.
  const meta = JSON.parse(readFileSync('dist/nftlb.meta.json', 'utf8')) as { inputs: Record<string, unknown> };
  const dirs = new Set(
    Object.keys(meta.inputs).flatMap((i) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1] ?? []),
  );
  t.true(dirs.size >= 20, `only ${dirs.size} packages in the bundle?`);
  for (const dir of dirs) {
    const para = paragraphs.find((p) => p.startsWith(`Files: ${dir}/*\n`));
    if (para === undefined) {
      t.fail(`no paragraph for ${dir}`);
      continue;
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license: string;
    };
    t.true(para.includes(`npm package ${pkg.name} ${pkg.version}`), dir);
    t.regex(para, new RegExp(`^License: ${pkg.license.replace(/[.()]/g, '\\$&')}$`, 'm'), dir);
    // The licence text as the package ships it (Apache-2.0: Debian's common-licenses copy, as policy asks).
    if (pkg.license === 'Apache-2.0') t.regex(para, /\/usr\/share\/common-licenses\/Apache-2\.0/);
    else {
      const file = readdirSync(dir).find((n) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(n))!;
      const words = readFileSync(join(dir, file), 'utf8')
        .split(/\s+/)
        .filter((w) => w !== '');
      const body = para
        .split('\n')
        .map((l) => l.replace(/^ \.?/, ''))
        .join(' ')
        .split(/\s+/);
      t.true(
        words.every((w) => body.includes(w)),
        `${dir}: its licence text is not complete`,
      );
    }
  }
});

// The maintainer scripts as dpkg runs them under systemd (/run/systemd/system present), with a systemctl and a
// deb-systemd-invoke that write down what they are asked: a fresh configure only reloads systemd; an upgrade (dpkg -i of
// the package over itself: configure with the version replaced) also restarts nftlb-health.service if it runs, so that
// it runs the new code; nothing else is started or restarted.
packageTest(
  'an upgrade restarts a running nftlb-health.service and nothing else; a fresh install starts nothing',
  async (t, f) => {
    const r = f.root;
    const log = join(r, 'tmp/nftlb-invoked');
    const fakes = ['systemctl', 'deb-systemd-invoke'].map((name) => join(r, 'usr/local/sbin', name));
    for (const fake of fakes)
      writeFileSync(fake, `#!/bin/sh\necho "\${0##*/} $*" >> /tmp/nftlb-invoked\n`, { mode: 0o755 });
    mkdirSync(join(r, 'run/systemd/system'), { recursive: true });
    copyFileSync(f.deb, join(r, 'tmp/nftlb.deb'));
    const env = { PATH: '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive' };
    const invoked = (): string[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
    try {
      const fresh = await inRoot(r, ['/var/lib/dpkg/info/nftlb.postinst', 'configure'], env);
      t.is(fresh.exitCode, 0, fresh.stderr);
      t.deepEqual(invoked(), ['systemctl --system daemon-reload']);
      rmSync(log);
      const upgrade = await inRoot(r, ['dpkg', '-i', '/tmp/nftlb.deb'], env);
      t.is(upgrade.exitCode, 0, upgrade.stderr);
      t.deepEqual(
        invoked().filter((l) => !l.endsWith(' daemon-reload')),
        ['deb-systemd-invoke try-restart nftlb-health.service'],
      );
    } finally {
      for (const p of [...fakes, log, join(r, 'tmp/nftlb.deb')]) rmSync(p, { force: true });
      rmSync(join(r, 'run/systemd'), { recursive: true, force: true });
    }
  },
);

// Runs last: the root is gone for other tests afterwards.
packageTest('purge removes the state nftlb wrote, the config and the units', async (t, f) => {
  mkdirSync(join(f.root, 'var/lib/nftlb'), { recursive: true });
  mkdirSync(join(f.root, 'run/nftlb'), { recursive: true });
  writeFileSync(join(f.root, 'var/lib/nftlb/health-nftlb.json'), '{}\n');
  writeFileSync(join(f.root, 'run/nftlb/apply.lock'), '');
  writeFileSync(join(f.root, 'run/nftlb/nftlb.applied.json'), '{}\n');
  const purge = await inRoot(f.root, ['apt-get', 'purge', '-y', 'nftlb'], { DEBIAN_FRONTEND: 'noninteractive' });
  t.is(purge.exitCode, 0, purge.stderr);
  for (const p of [
    'var/lib/nftlb',
    'run/nftlb',
    'etc/nftlb',
    'etc/default/nftlb',
    'usr/bin/nftlb',
    'usr/lib/nftlb',
    'lib/systemd/system/nftlb.service',
  ])
    t.false(existsSync(join(f.root, p)), `${p} is left after purge`);
});
