// The keys of https and exec checks: what normalize makes of them, and every mistake with its file:line, key and code.
import test from 'ava';
import { formatDiagnostic } from '../../src/common/diagnostic.js';
import { checkConfig } from '../../src/config/read.js';

const head = `services:
  - name: a
    vip: 203.0.113.1
    port: 443
`;

const problems = (text: string): string[] =>
  checkConfig('t.yaml', text).diagnostics.map((d) => formatDiagnostic('t.yaml', d));

test('https: defaults, sni from a host name, ca and no-verify', (t) => {
  const c = checkConfig(
    't.yaml',
    `${head}    health: { type: https }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3, health: { type: https, host: "www.example.test:8443", ca: /etc/nftlb/ca.pem } }
      - { address: 198.51.100.4, health: { type: https, host: "203.0.113.9", sni: api.example.test } }
      - { address: 198.51.100.5, health: { type: https, host: "[2001:db8::1]:443", no-verify: true, status: [200, 204], path: /ready, method: HEAD } }
`,
  );
  t.deepEqual(c.diagnostics, []);
  const checks = c.model!.services[0]!.backends.map((b) => b.health);
  t.like(checks[0], {
    kind: 'https',
    method: 'GET',
    path: '/',
    host: undefined,
    sni: undefined,
    ca: undefined,
    verify: true,
  });
  t.like(checks[1], { kind: 'https', host: 'www.example.test:8443', sni: 'www.example.test', ca: '/etc/nftlb/ca.pem' });
  t.like(checks[2], { host: '203.0.113.9', sni: 'api.example.test' });
  t.like(checks[3], { sni: undefined, verify: false, path: '/ready', method: 'HEAD', status: [200, 204] });
});

test('https and exec: wrong forms are schema errors that state what is expected', (t) => {
  t.deepEqual(
    problems(`${head}    health: { type: https, ca: certs/ca.pem }
    backends:
      - { address: 198.51.100.2, health: { type: exec, command: 5 } }
      - { address: 198.51.100.3, health: { type: https, sni: "bad name" } }
      - { address: 198.51.100.4, health: { type: exec, command: [prog, 7] } }
      - { address: 198.51.100.5, health: { type: https, no-verify: "yes" } }
`),
    [
      "t.yaml:5: services[0].health.ca: expected https: an absolute path to a PEM file of the CA certificate(s) that verify the backend's certificate, instead of Node's built-in CA list, matching ^/ [schema.pattern]",
      't.yaml:7: services[0].backends[0].health.command: expected exec: a program and its arguments, as a list [program, "argument with space", ...] or as one string split on spaces (no shell); exit status 0 means up, got 5 [schema.one-of]',
      't.yaml:8: services[0].backends[1].health.sni: expected https: a DNS name sent as TLS server name (SNI) and verified against the certificate, matching ^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$ [schema.pattern]',
      't.yaml:9: services[0].backends[2].health.command[1]: expected a string, got 7: quote it ("7") to make it a string [schema.type]',
      't.yaml:10: services[0].backends[3].health.no-verify: expected true or false (https: true accepts any certificate, so the check no longer proves who answers), got the string "yes" [schema.type]',
    ],
  );
});

test('https and exec: keys that contradict each other or cannot work, with their lines', (t) => {
  t.deepEqual(
    problems(`${head}    health: { type: https, sni: 198.51.100.9 }
    backends:
      - address: 198.51.100.2
        health: { type: exec, command: ["", "x"] }
      - address: 198.51.100.4
        health: { type: http, sni: a.example, no-verify: true }
      - address: 198.51.100.5
        health: { type: https, no-verify: true, ca: /etc/ca.pem }
      - address: 198.51.100.7
        health: { type: exec, command: "   " }
      - address: 198.51.100.8
        health: { type: exec }
      - address: 198.51.100.9
        health: { type: exec, command: ["a\\0b"] }
`),
    [
      't.yaml:5: services[0].health.sni: expected a DNS name, got the address 198.51.100.9: TLS never sends an address as server name (RFC 6066); leave sni out and the certificate is verified against the probed address [health.sni]',
      't.yaml:8: services[0].backends[0].health.command[0]: expected a program name or path first, got an empty string [health.command]',
      't.yaml:10: warning: services[0].backends[1].health.sni: sni is used only by https checks; this http check ignores it [health.unused-key]',
      't.yaml:10: warning: services[0].backends[1].health.no-verify: no-verify is used only by https checks; this http check ignores it [health.unused-key]',
      't.yaml:12: warning: services[0].backends[2].health.ca: no-verify: true accepts any certificate; ca is not used [health.unused-key]',
      't.yaml:14: services[0].backends[3].health.command: expected a program name or path, got only spaces [health.command]',
      't.yaml:16: services[0].backends[4].health: an exec check needs command: [program, "argument", ...] or "program args..." [health.command]',
      't.yaml:18: services[0].backends[5].health.command[0]: expected text without a NUL character (a program argument cannot hold one) [health.command]',
    ],
  );
});

test('exec: the list form in JSON keeps each argument whole', (t) => {
  const c = checkConfig(
    't.json',
    JSON.stringify({
      services: [
        {
          name: 'a',
          vip: '203.0.113.1',
          port: 80,
          health: { type: 'exec', command: ['/usr/lib/check', 'arg with space', ''] },
          backends: [{ address: '198.51.100.2' }],
        },
      ],
    }),
  );
  t.deepEqual(c.diagnostics, []);
  t.like(c.model!.services[0]!.backends[0]!.health, {
    kind: 'exec',
    command: ['/usr/lib/check', 'arg with space', ''],
  });
});

test('a multi-port service: the health.port message asks only for what works, a port on the check', (t) => {
  const multi = `services:
  - name: a
    vip: 203.0.113.1
    port: [80, 443]
`;
  t.deepEqual(problems(`${multi}    health: { type: tcp }\n    backends: [{ address: 198.51.100.2 }]\n`), [
    't.yaml:6: services[0].backends[0]: the service has several ports, so its health check has none to probe: give the health check a port (health: { port: N }, on the service or on this backend) [health.port]',
  ]);
  // What it asks for is taken; what it no longer offers (a port on the backend) is refused.
  t.deepEqual(problems(`${multi}    health: { type: tcp, port: 80 }\n    backends: [{ address: 198.51.100.2 }]\n`), []);
  t.deepEqual(problems(`${multi}    backends: [{ address: 198.51.100.2, health: { type: tcp, port: 80 } }]\n`), []);
  const withPort = problems(`${multi}    health: { type: tcp }\n    backends: [{ address: 198.51.100.2, port: 80 }]\n`);
  t.true(
    withPort.some((p) => p.endsWith('[backend.port-with-range]')),
    withPort.join('\n'),
  );
});
