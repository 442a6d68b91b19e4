// https checks against local TLS servers (node:tls, certificates made by openssl in the test; no network).
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { NftlbError } from '../../src/common/errors.js';
import { runProbe, type CaContexts } from '../../src/health/probe.js';
import { caContexts } from '../../src/health/tls.js';
import type { HealthCheck } from '../../src/model/types.js';
import { readCaFile } from '../../src/system/ca-file.js';
import { modelOf } from '../support/model.js';
import { testCerts } from '../support/tls-certs.js';

const lo = { family: 4 as const, text: '127.0.0.1' };

/** What the TLS server saw of one connection: the SNI name (false: none) and the request head. */
interface Seen {
  servername: string | false;
  head: string;
}

// A TLS server on 127.0.0.1 with the test certificate; `answer` gives the reply to a request head (undefined: say
// nothing). Closed when the test ends.
async function tlsServer(
  t: ExecutionContext,
  answer: (head: string) => string | undefined,
): Promise<{ port: number; seen: Seen[] }> {
  const { key, cert } = testCerts();
  const seen: Seen[] = [];
  const srv = tls.createServer({ key, cert }, (s) => {
    s.on('error', () => undefined);
    s.setEncoding('latin1');
    let head = '';
    s.on('data', (d: string) => {
      head += d;
      if (!head.includes('\r\n\r\n')) return;
      // Node sets servername on a server-side socket to the SNI name the client sent, or false.
      seen.push({ servername: (s as tls.TLSSocket & { servername?: string | false }).servername ?? false, head });
      const reply = answer(head);
      if (reply !== undefined) s.end(reply);
    });
  });
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const conns = new Set<net.Socket>();
  srv.on('connection', (c: net.Socket) => (conns.add(c), c.on('close', () => conns.delete(c))));
  t.teardown(() => {
    conns.forEach((c) => c.destroy());
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return { port: (srv.address() as net.AddressInfo).port, seen };
}

const ok200 = (): string => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

const https = (o: Partial<Extract<HealthCheck, { kind: 'https' }>> = {}): HealthCheck => ({
  interval: 2000,
  timeout: 1500,
  rise: 2,
  fall: 2,
  port: undefined,
  kind: 'https',
  method: 'GET',
  path: '/',
  host: undefined,
  status: [200],
  sni: undefined,
  ca: undefined,
  verify: true,
  ...o,
});

// The CA contexts of the test CAs, read as nftlb health reads them.
async function cas(): Promise<CaContexts> {
  const c = testCerts();
  const m = modelOf(`
services:
  - name: a
    vip: 203.0.113.1
    port: 443
    health: { type: https, ca: ${c.caFile} }
    backends: [{ address: 198.51.100.2 }]
  - name: b
    vip: 203.0.113.2
    port: 443
    health: { type: https, ca: ${c.otherCaFile} }
    backends: [{ address: 198.51.100.2 }]
`);
  return caContexts(m, readCaFile);
}

test('https: the certificate verifies against the CA file and the probed address; HTTP/1.1 with Host address:port', async (t) => {
  const srv = await tlsServer(t, ok200);
  const r = await runProbe(https({ ca: testCerts().caFile }), { address: lo, port: srv.port }, {}, await cas());
  t.like(r, { ok: true, reason: 'status 200' });
  t.is(srv.seen.length, 1);
  t.false(srv.seen[0]!.servername, 'an address is never sent as SNI');
  const lines = srv.seen[0]!.head.split('\r\n');
  t.is(lines[0], 'GET / HTTP/1.1');
  t.true(lines.includes(`Host: 127.0.0.1:${srv.port}`), lines.join(' | '));
  t.true(lines.includes('Connection: close'));
});

test('https: sni is sent and the certificate verified against it; a name the certificate lacks fails', async (t) => {
  const srv = await tlsServer(t, ok200);
  const c = await cas();
  const at = { address: lo, port: srv.port };
  t.like(await runProbe(https({ ca: testCerts().caFile, sni: 'backend.test' }), at, {}, c), { ok: true });
  t.is(srv.seen[0]!.servername, 'backend.test');
  const wrong = await runProbe(https({ ca: testCerts().caFile, sni: 'other.test' }), at, {}, c);
  t.false(wrong.ok);
  t.regex(wrong.reason, /^certificate not accepted: .*other\.test.*\(ERR_TLS_CERT_ALTNAME_INVALID\)$/);
  t.is(srv.seen.length, 1, 'no request after a failed verification');
});

test('https: host names the Host header and, being a name, the SNI', async (t) => {
  const srv = await tlsServer(t, ok200);
  const m = modelOf(`
services:
  - name: a
    vip: 203.0.113.1
    port: 443
    health: { type: https, host: "backend.test:8443", ca: ${testCerts().caFile} }
    backends: [{ address: 198.51.100.2 }]
`);
  const check = m.services[0]!.backends[0]!.health!;
  t.like(check, { kind: 'https', sni: 'backend.test', host: 'backend.test:8443', verify: true });
  t.like(await runProbe(check, { address: lo, port: srv.port }, {}, await cas()), { ok: true });
  t.is(srv.seen[0]!.servername, 'backend.test');
  t.true(srv.seen[0]!.head.includes('\r\nHost: backend.test:8443\r\n'));
});

test('https: a certificate of another CA fails; no-verify accepts it', async (t) => {
  const srv = await tlsServer(t, ok200);
  const c = await cas();
  const at = { address: lo, port: srv.port };
  const r = await runProbe(https({ ca: testCerts().otherCaFile }), at, {}, c);
  t.false(r.ok);
  t.regex(
    r.reason,
    /^certificate not accepted: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/,
  );
  // Node's built-in CA list does not know the test CA either.
  t.false((await runProbe(https(), at, {}, c)).ok);
  t.like(await runProbe(https({ ca: testCerts().otherCaFile, verify: false }), at, {}, c), {
    ok: true,
    reason: 'status 200',
  });
  t.like(await runProbe(https({ verify: false, sni: 'other.test' }), at, {}, c), { ok: true });
});

test('https: the status decides, as for http', async (t) => {
  const srv = await tlsServer(t, (head) =>
    head.startsWith('GET /ready ')
      ? ok200()
      : 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  );
  const c = await cas();
  const at = { address: lo, port: srv.port };
  const base = { ca: testCerts().caFile, path: '/ready' };
  t.like(await runProbe(https(base), at, {}, c), { ok: true, reason: 'status 200' });
  t.like(await runProbe(https({ ...base, path: '/' }), at, {}, c), { ok: false, reason: 'status 503, expected 200' });
  t.like(await runProbe(https({ ...base, path: '/', status: [200, 503] }), at, {}, c), { ok: true });
  t.like(await runProbe(https({ ...base, method: 'HEAD' }), at, {}, c), {
    ok: false,
    reason: 'status 503, expected 200',
  });
  t.is(srv.seen.at(-1)!.head.split('\r\n')[0], 'HEAD /ready HTTP/1.1');
});

test('https: a server that never answers, or never speaks TLS, fails at the timeout; plain HTTP fails the handshake', async (t) => {
  const mute = await tlsServer(t, () => undefined);
  const c = await cas();
  const check = https({ ca: testCerts().caFile, timeout: 300 });
  t.like(await runProbe(check, { address: lo, port: mute.port }, {}, c), { ok: false, reason: 'timeout after 300 ms' });
  t.is(mute.seen.length, 1, 'the request reached it');

  const silent = net.createServer((s) => s.on('error', () => undefined));
  const plain = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  for (const srv of [silent, plain]) {
    await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
    // The silent server never reads, so it never sees the probe close: its sockets are ended here.
    const conns = new Set<net.Socket>();
    srv.on('connection', (c: net.Socket) => (conns.add(c), c.on('close', () => conns.delete(c))));
    t.teardown(() => {
      conns.forEach((c) => c.destroy());
      return new Promise<void>((resolve) => srv.close(() => resolve()));
    });
  }
  const port = (s: net.Server): number => (s.address() as net.AddressInfo).port;
  t.like(await runProbe(check, { address: lo, port: port(silent) }, {}, c), {
    ok: false,
    reason: 'timeout after 300 ms',
  });
  const r = await runProbe(check, { address: lo, port: port(plain) }, {}, c);
  t.false(r.ok);
  t.is(r.reason, 'TLS handshake failed: wrong version number');
});

test('CA files: read once per file; a missing file or one without a certificate is an error naming file and check', async (t) => {
  const { caFile, dir } = testCerts();
  const conf = (ca: string): string => `
services:
  - name: a
    vip: 203.0.113.1
    port: 443
    backends:
      - { address: 198.51.100.2, health: { type: https, ca: ${ca} } }
      - { address: 198.51.100.3, health: { type: https, ca: ${ca} } }
`;
  const reads: string[] = [];
  const counted = (f: string): Promise<string> => (reads.push(f), readCaFile(f));
  t.is((await caContexts(modelOf(conf(caFile)), counted)).size, 1);
  t.deepEqual(reads, [caFile]);

  const missing = await t.throwsAsync(caContexts(modelOf(conf('/nonexistent/ca.pem')), readCaFile));
  t.true(missing instanceof NftlbError && missing.code === 'config-read');
  t.is(missing?.message, 'cannot read CA file /nonexistent/ca.pem: ENOENT');
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const bad = await t.throwsAsync(caContexts(modelOf(conf(junk)), readCaFile));
  t.true(bad instanceof NftlbError && bad.code === 'config-read');
  t.is(bad?.message, `CA file ${junk} (the https check of services[0].backends[0]) holds no PEM certificate`);
  const dirErr = await t.throwsAsync(readCaFile(dir));
  t.regex(dirErr?.message ?? '', /not a regular file/);
});
