// `nftlb render --format iptables|ip6tables` through the real command line: output on stdout, refusals exit 5.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { run } from '../../src/cli/program.js';

async function render(yaml: string, format: string): Promise<{ code: number; out: string; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-ipt-cli-'));
  try {
    await writeFile(join(dir, 'c.yaml'), yaml);
    let out = '';
    let err = '';
    const code = await run(['render', '-c', join(dir, 'c.yaml'), '-f', format], {
      out: (s) => void (out += s),
      err: (s) => void (err += s),
    });
    return { code, out, err };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const WEB =
  'services:\n  - { name: web, vip: [203.0.113.1, "2001:db8:1::1"], port: 80, backends: [{ address: 198.51.100.2, port: 8080 }, { address: "2001:db8:2::2", port: 8080 }] }\n';

test('render --format iptables prints iptables-restore input, --format ip6tables the IPv6 half', async (t) => {
  const v4 = await render(WEB, 'iptables');
  t.is(v4.code, EXIT.ok, v4.err);
  t.regex(v4.out, /^\*nat$/m);
  t.regex(v4.out, /-A NFTLB-B-1 -p tcp -j DNAT --to-destination 198\.51\.100\.2:8080/);
  t.notRegex(v4.out, /2001:db8:2::2\]/);
  t.regex(v4.out, /# IPv6 pools of web: nftlb render --format ip6tables/);
  const v6 = await render(WEB, 'ip6tables');
  t.is(v6.code, EXIT.ok);
  t.regex(v6.out, /--to-destination \[2001:db8:2::2\]:8080/);
});

test('render --format iptables refuses maglev with the default table: exit 5, service and feature named, nothing on stdout', async (t) => {
  const r = await render(
    'services:\n  - { name: mg, vip: 203.0.113.1, port: 80, scheduler: maglev, backends: [{ address: 198.51.100.2 }, { address: 198.51.100.3 }] }\n',
    'iptables',
  );
  t.is(r.code, EXIT.unsupported);
  t.is(r.out, '');
  t.regex(r.err, /service mg: maglev with table-size 4093/);
});

test('render --format iptables refuses persistence: exit 5, the reason named, nothing on stdout', async (t) => {
  const r = await render(
    'services:\n  - { name: st, vip: 203.0.113.1, port: 80, persistence: {}, backends: [{ address: 198.51.100.2 }] }\n',
    'iptables',
  );
  t.is(r.code, EXIT.unsupported);
  t.is(r.out, '');
  t.regex(r.err, /service st: persistence is not expressed by the iptables output \(-m recent keeps at most/);
});

test('render --format iptables refuses the forward filter and the connection log: exit 5, the reason named, nothing on stdout', async (t) => {
  const fwd = await render(`forward: { policy: drop, accept: [198.51.100.0/24] }\n${WEB}`, 'iptables');
  t.is(fwd.code, EXIT.unsupported);
  t.is(fwd.out, '');
  t.regex(fwd.err, /forward \(the forward filter\) is not expressed by the iptables output/);
  // policy accept is no filter: the render goes through.
  t.is((await render(`forward: { policy: accept }\n${WEB}`, 'iptables')).code, EXIT.ok);
  const log = await render(
    'services:\n  - { name: lg, vip: 203.0.113.1, port: 80, log: { group: 2 }, backends: [{ address: 198.51.100.2 }] }\n',
    'ip6tables',
  );
  t.is(log.code, EXIT.unsupported);
  t.is(log.out, '');
  t.regex(log.err, /service lg: log is not expressed by the iptables output/);
});
