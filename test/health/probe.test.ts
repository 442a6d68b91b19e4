import * as net from 'node:net';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { runProbe } from '../../src/health/probe.js';
import type { HealthCheck } from '../../src/model/types.js';
import { modelOf } from '../support/model.js';

const lo = { family: 4 as const, text: '127.0.0.1' };
const base = { interval: 2000, timeout: 800, rise: 2, fall: 2, port: undefined };

// A real TCP server on 127.0.0.1 (random port) that runs `onConn` per connection; closed when the test ends.
async function server(t: ExecutionContext, onConn: (s: net.Socket) => void): Promise<number> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.teardown(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const conns = new Set<net.Socket>();
  srv.on('connection', (c) => (conns.add(c), c.on('close', () => conns.delete(c))));
  t.teardown(() => conns.forEach((c) => c.destroy()));
  return (srv.address() as net.AddressInfo).port;
}

// A port with nothing listening: bind, read the port, close.
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test('tcp: a listening port passes, a closed one fails with ECONNREFUSED', async (t) => {
  const port = await server(t, () => undefined);
  const check: HealthCheck = { ...base, kind: 'tcp', send: undefined };
  t.like(await runProbe(check, { address: lo, port }), { ok: true, reason: 'connected' });
  t.like(await runProbe(check, { address: lo, port: await closedPort() }), { ok: false, reason: 'ECONNREFUSED' });
});

test('tcp: the check port overrides the backend port', async (t) => {
  const port = await server(t, () => undefined);
  const check: HealthCheck = { ...base, port, kind: 'tcp', send: undefined };
  t.true((await runProbe(check, { address: lo, port: await closedPort() })).ok);
});

test('banner: an SMTP-like 220 greeting passes, 554 fails', async (t) => {
  const good = await server(t, (s) => s.write('220 mx.example ESMTP\r\n'));
  const bad = await server(t, (s) => s.write('554 no service\r\n'));
  const check: HealthCheck = { ...base, kind: 'banner', send: undefined, expect: '220' };
  t.like(await runProbe(check, { address: lo, port: good }), { ok: true, reason: 'banner "220 mx.example ESMTP"' });
  const r = await runProbe(check, { address: lo, port: bad });
  t.false(r.ok);
  t.regex(r.reason, /554 no service.*expected "220/);
});

test('banner: send goes out first, the reply must start with expect', async (t) => {
  const port = await server(t, (s) =>
    s.once('data', (d) => s.write(String(d) === 'PING\r\n' ? '+PONG\r\n' : '-ERR\r\n')),
  );
  const check: HealthCheck = { ...base, kind: 'banner', send: 'PING\\r\\n', expect: '+PONG' };
  t.true((await runProbe(check, { address: lo, port })).ok);
  t.false((await runProbe({ ...check, send: 'NOPE\\r\\n' }, { address: lo, port })).ok);
});

test('banner: a server that accepts but never speaks fails at the timeout', async (t) => {
  const port = await server(t, () => undefined);
  const check: HealthCheck = { ...base, timeout: 300, kind: 'banner', send: undefined, expect: '220' };
  const r = await runProbe(check, { address: lo, port });
  t.false(r.ok);
  t.is(r.reason, 'timeout after 300 ms');
});

test('http: HTTP/1.1 with method, path and Host (address:port, or the configured one); the status decides', async (t) => {
  const seen: string[] = [];
  const port = await server(t, (s) =>
    s.once('data', (d) => {
      const head = String(d);
      seen.push(head.split('\r\n').slice(0, 2).join(' | '));
      const status = head.startsWith('GET /healthz ')
        ? '200 OK'
        : head.startsWith('HEAD /')
          ? '204 No Content'
          : '503 Unavailable';
      s.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`);
    }),
  );
  const check: HealthCheck = { ...base, kind: 'http', method: 'GET', path: '/healthz', host: undefined, status: [200] };
  t.like(await runProbe(check, { address: lo, port }), { ok: true, reason: 'status 200' });
  t.like(await runProbe({ ...check, path: '/other' }, { address: lo, port }), {
    ok: false,
    reason: 'status 503, expected 200',
  });
  t.like(await runProbe({ ...check, method: 'HEAD', path: '/', status: [200, 204] }, { address: lo, port }), {
    ok: true,
    reason: 'status 204',
  });
  t.is(seen[0], `GET /healthz HTTP/1.1 | Host: 127.0.0.1:${port}`);
  await runProbe({ ...check, host: 'www.example.test' }, { address: lo, port });
  t.is(seen.at(-1), 'GET /healthz HTTP/1.1 | Host: www.example.test');
});

test('http: a reply that is not HTTP fails', async (t) => {
  const port = await server(t, (s) => s.end('SSH-2.0-OpenSSH\r\n'));
  const check: HealthCheck = { ...base, kind: 'http', method: 'GET', path: '/', host: undefined, status: [200] };
  const r = await runProbe(check, { address: lo, port });
  t.false(r.ok);
  t.regex(r.reason, /not an HTTP reply/);
});

test('exec: exit status decides, NFTLB_ADDRESS/NFTLB_PORT are set, a hung command is killed at the timeout', async (t) => {
  const target = { address: lo, port: 8080 };
  const sh = (script: string): HealthCheck => ({ ...base, kind: 'exec', command: ['sh', '-c', script] });
  t.like(await runProbe(sh('test "$NFTLB_ADDRESS:$NFTLB_PORT" = 127.0.0.1:8080'), target), {
    ok: true,
    reason: 'exit 0',
  });
  t.like(await runProbe(sh('echo broken >&2; exit 3'), target), { ok: false, reason: 'exit 3: broken' });
  const hung = await runProbe({ ...sh('sleep 5'), timeout: 200 }, target);
  t.like(hung, { ok: false, reason: 'timeout after 200 ms' });
  t.like(await runProbe({ ...base, kind: 'exec', command: ['/nonexistent/check'] }, target), { ok: false });
});

test('exec: a command list passes an argument with a space as one argument; a string is still split on spaces', async (t) => {
  const m = modelOf(`
services:
  - name: a
    vip: 203.0.113.1
    port: 80
    backends:
      - address: 198.51.100.2
        health: { type: exec, command: [sh, -c, 'test "$1" = "arg with space" && test $# = 1', sh, "arg with space"] }
      - address: 198.51.100.3
        health: { type: exec, command: "sh -c exit" }
`);
  const [list, text] = m.services[0]!.backends.map((b) => b.health!);
  t.deepEqual((list as { command: readonly string[] }).command, [
    'sh',
    '-c',
    'test "$1" = "arg with space" && test $# = 1',
    'sh',
    'arg with space',
  ]);
  t.deepEqual((text as { command: readonly string[] }).command, ['sh', '-c', 'exit']);
  const target = { address: lo, port: 80 };
  t.like(await runProbe(list!, target), { ok: true, reason: 'exit 0' });
  const split = modelOf(`
services:
  - name: a
    vip: 203.0.113.1
    port: 80
    health: { type: exec, command: 'sh -c test"$0"="arg with space"' }
    backends: [{ address: 198.51.100.2 }]
`).services[0]!.backends[0]!.health!;
  // Split on spaces: "with" and "space" are words of their own, so the test sees other arguments and fails.
  t.deepEqual((split as { command: readonly string[] }).command, ['sh', '-c', 'test"$0"="arg', 'with', 'space"']);
  t.false((await runProbe(split, target)).ok);
});
