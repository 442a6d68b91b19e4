// /metrics of `nftlb health --watch --metrics-listen`: the exposition format (checked with promtool), a server that
// never holds up the health loop, and that stops on SIGTERM. Loopback only.
import test, { type ExecutionContext } from 'ava';
import { execa, type Options } from 'execa';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { HEALTH_METRICS } from '../../src/cli/health-metrics.js';
import { NftlbError } from '../../src/common/errors.js';
import { EXPOSITION_TYPE, parseListen, serveMetrics } from '../../src/system/metrics-server.js';
import { scratch } from '../support/run-command.js';

// GET (or another method) on a loopback URL: status, content type and body.
function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', fail);
    req.end();
  });
}

// Whether something accepts connections on 127.0.0.1:port.
const listening = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });

// `promtool check metrics` on a body: null when it passes, its complaint otherwise; skips loudly without promtool
// (fails in CI, where scripts/setup.sh test installs it).
async function promtool(t: ExecutionContext, body: string): Promise<string | null | 'skipped'> {
  const r = await execa('promtool', ['check', 'metrics'], { input: body, reject: false });
  if (r.code === 'ENOENT' || r.exitCode === 127) {
    if (process.env['CI'] === 'true') t.fail('promtool is not installed (scripts/setup.sh test installs it as root)');
    else {
      console.error(`PROMTOOL CHECK SKIPPED: promtool is not installed (${t.title})`);
      t.log('PROMTOOL CHECK SKIPPED: promtool is not installed (scripts/setup.sh test installs it as root)');
    }
    return 'skipped';
  }
  return r.exitCode === 0 ? null : `${r.stdout}${r.stderr}`;
}

test('parseListen takes ADDRESS:PORT and [IPv6]:PORT, nothing else', (t) => {
  t.deepEqual(parseListen('127.0.0.1:9811'), { host: '127.0.0.1', port: 9811 });
  t.deepEqual(parseListen('[::1]:9811'), { host: '::1', port: 9811 });
  t.deepEqual(parseListen('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  for (const bad of ['9811', ':9811', 'localhost:9811', '127.0.0.1', '::1:9811', '127.0.0.1:65536', '[::1]', ''])
    t.is(parseListen(bad), undefined, bad);
});

test('the server: GET /metrics answers, one scrape at a time shared by concurrent requests; 404, 405; close', async (t) => {
  let scrapes = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const s = await serveMetrics({ host: '127.0.0.1', port: 0 }, async () => {
    scrapes++;
    await gate;
    return { text: '# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n' };
  });
  // A failed assertion ends the test at once: the server must not outlive it (it would keep the worker alive).
  t.teardown(() => {
    release();
    return s.close();
  });
  const port = Number(new URL(s.url).port);
  t.regex(s.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const a = get(s.url);
  const b = get(s.url);
  const end = Date.now() + 30_000;
  while (s.waiting < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  t.is(s.waiting, 2, 'both requests wait for the scrape');
  release();
  const [ra, rb] = await Promise.all([a, b]);
  t.is(scrapes, 1, 'two requests during one scrape share it');
  t.deepEqual(
    [ra.status, ra.type, ra.body],
    [200, EXPOSITION_TYPE, '# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n'],
  );
  t.is(rb.body, ra.body);
  t.is((await get(s.url.replace('/metrics', '/'))).status, 404);
  t.is((await get(s.url, 'POST')).status, 405);
  const other = await serveMetrics({ host: '127.0.0.1', port }, async () => ({ text: '' })).catch((e: unknown) => e);
  if (!(other instanceof Error)) t.teardown(() => (other as { close(): Promise<void> }).close());
  t.true(other instanceof NftlbError && other.code === 'host-fault' && /EADDRINUSE/.test(other.message));
  await s.close();
  t.false(await listening(port));
});

// A program the bundled nftlb runs instead of the real one: a shell script `name` in `dir`.
function fakeProgram(dir: string, name: string, script: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\nd=${dir}\n${script}`);
  chmodSync(file, 0o755);
  return file;
}

// A fake nft: keeps the table nftlb loads (its fingerprint comment), lists it (the DSR netdev table is never there),
// and answers the JSON listing (which `nftlb status` asks for only when its netlink dump of the counters fails).
function fakeNft(dir: string): string {
  return fakeProgram(
    dir,
    'nft',
    `case "$*" in
  "-t list table inet nftlb")
    [ -e $d/loaded.nft ] || { echo "Error: Could not process rule: No such file or directory" >&2; exit 1; }
    printf 'table inet nftlb {\\n%s\\n}\\n' "$(grep -m1 'comment "nftlb fingerprint' $d/loaded.nft)"; exit 0 ;;
  "-t list table netdev nftlb_dsr") echo "Error: Could not process rule: No such file or directory" >&2; exit 1 ;;
  "-j list table inet nftlb"|"-j -t list table inet nftlb") echo '{"nftables": []}'; exit 0 ;;
  "-t -f -")
    # The cheap listing of nftlb's tables (a script of list commands): the loaded table with its fingerprint.
    cat >/dev/null
    [ -e $d/loaded.nft ] && printf 'table inet nftlb {\n%s\n}\n' "$(grep -m1 'comment "nftlb fingerprint' $d/loaded.nft)"
    exit 0 ;;
  "-f -") cat >$d/in.nft; grep -q '^table inet nftlb {$' $d/in.nft && mv $d/in.nft $d/loaded.nft; exit 0 ;;
  "-f "*) cat "$2" >$d/in.nft; grep -q '^table inet nftlb {$' $d/in.nft && mv $d/in.nft $d/loaded.nft; exit 0 ;;
esac
echo "fake nft: $*" >&2; exit 1
`,
  );
}

// A fake conntrack: lists no entries, and while \`block\` exists first waits for \`go\` (the status part of a scrape
// reads conntrack; its counters come from a netlink dump, and its live check from apply's record).
function fakeConntrack(dir: string): string {
  return fakeProgram(
    dir,
    'conntrack',
    `if [ -e $d/block ]; then n=0; while [ ! -e $d/go ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; fi
exit 0
`,
  );
}

const lines = (file: string): number => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0);

// The bundled nftlb health --watch of scratch `s` (its config, state directory and lock), serving metrics on `listen`.
function watchWithMetrics<O extends Options>(
  s: { config: string; dir: string; lock: string },
  listen: string,
  extra: readonly string[],
  options: O,
) {
  const args = ['health', '--watch', '-c', s.config, '--state-dir', s.dir, '--lock-file', s.lock];
  return execa(process.execPath, [resolve('dist/nftlb.mjs'), ...args, '--metrics-listen', listen, ...extra], options);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test.serial(
  'health --watch serves /metrics: promtool-clean, never holding up the checks, gone on SIGTERM',
  async (t) => {
    const s = scratch('');
    const checks = join(s.dir, 'checks.log');
    const check = join(s.dir, 'check.sh');
    writeFileSync(check, `#!/bin/sh\necho "$NFTLB_ADDRESS" >>${checks}\n`);
    chmodSync(check, 0o755);
    writeFileSync(
      s.config,
      `services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: exec, command: "${check}", interval: 1, timeout: 1, rise: 1, fall: 1 }
    backends:
      - { address: 198.51.100.2, port: 8080 }
      - { address: 198.51.100.3, port: 8080 }
`,
    );
    const env = {
      ...process.env,
      NFTLB_NFT: fakeNft(s.dir),
      NFTLB_CONNTRACK: fakeConntrack(s.dir),
      NFTLB_FLOCK: 'flock',
    };
    const child = watchWithMetrics(s, '127.0.0.1:0', [], { env, reject: false, stdin: 'ignore' });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    try {
      await until('the metrics address', () => /serving metrics on (\S+)/.test(stderr));
      const url = /serving metrics on (\S+)/.exec(stderr)![1]!;
      await until('the first checks and the table', () => lines(checks) >= 2 && existsSync(join(s.dir, 'loaded.nft')));
      const m = await get(url);
      t.is(m.status, 200);
      t.is(m.type, EXPOSITION_TYPE);
      t.regex(m.body, /^nftlb_build_info\{table="nftlb",version="[^"]+",node="v\d+\.\d+\.\d+"\} 1$/m);
      t.regex(m.body, /^nftlb_health_checks_total\{table="nftlb",result="pass"\} [1-9]\d*$/m);
      t.regex(m.body, /^nftlb_status_read_ok\{table="nftlb"\} 1$/m);
      t.regex(m.body, /^nftlb_live_matches_config\{table="nftlb"\} 1$/m, stderr);
      t.regex(m.body, /^nftlb_backend_active\{table="nftlb",service="web",backend="198\.51\.100\.2:8080"\} 1$/m);
      for (const name of HEALTH_METRICS) t.regex(m.body, new RegExp(`^# TYPE ${name} `, 'm'));
      t.is((m.body.match(/^# TYPE nftlb_build_info /gm) ?? []).length, 1, 'one build info');
      const complaint = await promtool(t, m.body);
      if (complaint !== 'skipped') t.is(complaint, null, m.body);

      // A scrape whose status part hangs (conntrack's listing waits for `go`) does not hold up the checks.
      writeFileSync(join(s.dir, 'block'), '');
      let answered = false;
      const slow = get(url).then((r) => ((answered = true), r));
      const before = lines(checks);
      await until('checks during the scrape', () => lines(checks) >= before + 4);
      t.false(answered, 'the scrape is still waiting for nft');
      writeFileSync(join(s.dir, 'go'), '');
      t.is((await slow).status, 200);

      child.kill('SIGTERM');
      const done = await child;
      t.is(done.exitCode, 0, stderr);
      t.regex(stderr, /nftlb health: stopping/);
      t.false(await listening(Number(new URL(url).port)), 'no longer listening');
    } finally {
      if (!existsSync(join(s.dir, 'go'))) writeFileSync(join(s.dir, 'go'), '');
      if (child.exitCode === null) child.kill('SIGKILL');
      await child.catch(() => undefined);
    }
  },
);

test.serial(
  'without the status part (the config names another table, then turns invalid), /metrics still answers with health and build info',
  async (t) => {
    const s = scratch(
      'services:\n  - { name: web, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n',
    );
    const child = watchWithMetrics(s, '127.0.0.1:0', ['--json'], {
      env: { ...process.env, NFTLB_NFT: fakeNft(s.dir), NFTLB_CONNTRACK: '/nonexistent/conntrack' },
      reject: false,
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    try {
      await until('the metrics address', () => /serving metrics on (\S+)/.test(stderr));
      const url = /serving metrics on (\S+)/.exec(stderr)![1]!;
      // The config on disk now names another table (health keeps its own until a restart): status would describe a
      // table health does not watch, under health's metrics.
      const other = `table: other\n${readFileSync(s.config, 'utf8')}`;
      writeFileSync(s.config, other);
      const o = await get(url);
      t.regex(o.body, /^nftlb_status_read_ok\{table="nftlb"\} 0$/m);
      t.notRegex(o.body, /table="other"/);
      t.regex(stderr, /metrics: .* names table other now, not nftlb, which nftlb health watches/);
      // The status child reads the config too: make it unreadable for it.
      writeFileSync(s.config, 'services: [');
      const m = await get(url);
      t.is(m.status, 200);
      t.regex(m.body, /^nftlb_status_read_ok\{table="nftlb"\} 0$/m);
      t.regex(m.body, /^nftlb_build_info\{/m);
      t.notRegex(m.body, /nftlb_backend_/);
      t.regex(stderr, /metrics: nftlb status exited 3/);
      const complaint = await promtool(t, m.body);
      if (complaint !== 'skipped') t.is(complaint, null, m.body);
      child.kill('SIGTERM');
      const done = await child;
      t.is(done.exitCode, 0);
      t.like(JSON.parse(String(done.stdout)), {
        command: 'health',
        result: 'stopped',
        exitCode: 0,
        error: null,
        mode: 'watch',
        metrics: url,
      });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await child.catch(() => undefined);
    }
  },
);

test('a port in use ends health --watch with exit 13 and the address', async (t) => {
  const s = scratch(
    'services:\n  - { name: web, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n',
  );
  const busy = await serveMetrics({ host: '127.0.0.1', port: 0 }, async () => ({ text: '' }));
  const port = new URL(busy.url).port;
  try {
    const r = await watchWithMetrics(s, `127.0.0.1:${port}`, [], {
      env: { ...process.env, NFTLB_NFT: fakeNft(s.dir) },
      reject: false,
      timeout: 60_000,
    });
    t.is(r.exitCode, 13, r.stderr);
    t.regex(r.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  } finally {
    await busy.close();
  }
});
