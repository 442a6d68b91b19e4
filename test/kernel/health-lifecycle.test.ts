// Backend lifecycle against the real kernel: nftlb health --once in the lb namespace probes real backend servers and
// rewrites the live table; real client connections show where new connections go.
import {
  healthConfig as config,
  healthEnv,
  healthRound,
  landed,
  nftlbIn,
  statusOf,
  web,
  webBackends,
} from './support/health.js';
import { listenersFor, startBackends } from './support/backends.js';
import { openLongLived, probe } from './support/client.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';

kernelTest(
  'health: a stopped backend leaves after fall checks and every new connection succeeds; it returns after rise checks',
  async (t) => {
    await withTopology({}, async (topo) => {
      const {
        b: [b0, b1, b2],
        servers,
        h,
      } = await webBackends(topo);
      t.is((await healthRound(topo, h)).action, 'full');
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`, `${b2}:8080`], errors: 0 });

      const onlyB1 = (r: Awaited<ReturnType<typeof healthRound>>): string[] =>
        r.transitions.filter((x) => x.endpoint === `${b1}:8080`).map((x) => `${x.from}->${x.to}`);
      t.deepEqual(onlyB1(await healthRound(topo, h)), ['unknown->up'], 'two passes so far: up');
      await servers.stopOne(b1);
      t.deepEqual(onlyB1(await healthRound(topo, h)), [], 'one failure is below fall 2');
      const down = await healthRound(topo, h);
      t.deepEqual(onlyB1(down), ['up->down']);
      t.is(down.action, 'incremental');
      t.deepEqual(landed(await web(topo, 60)), { backends: [`${b0}:8080`, `${b2}:8080`], errors: 0 });
      const st = await statusOf(topo, h);
      t.like(st.get(`${b1}:8080`), { health: 'down', active: false, reason: 'ECONNREFUSED' });

      await startBackends(topo, listenersFor([b1], [8080]));
      t.deepEqual((await healthRound(topo, h)).transitions, [], 'one pass is below rise 2');
      t.deepEqual(landed(await web(topo, 30)).backends, [`${b0}:8080`, `${b2}:8080`]);
      const up = await healthRound(topo, h);
      t.deepEqual(
        up.transitions.map((x) => `${x.from}->${x.to}`),
        ['down->up'],
      );
      t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`, `${b2}:8080`], errors: 0 });
    });
  },
);

kernelTest('health: drain keeps an established connection while new ones go elsewhere', async (t) => {
  await withTopology({}, async (topo) => {
    const [b0, b1] = topo.backendV4 as [string, string];
    await startBackends(topo, listenersFor([b0, b1], [8080]));
    const line = (a: string, state: string): string => `{ address: ${a}, port: 8080, state: ${state} }`;
    const h = healthEnv(config(topo, [line(b0, 'up'), line(b1, 'up')]));
    await healthRound(topo, h);
    const held = await openLongLived(topo, { target: topo.vip4, port: 80, source: topo.clientV4[0] });
    const mine = held.backend.replace(/:8080$/, '');
    const other = mine === b0 ? b1 : b0;
    h.write(config(topo, [line(b0, mine === b0 ? 'drain' : 'up'), line(b1, mine === b1 ? 'drain' : 'up')]));
    t.is((await healthRound(topo, h)).why, 'the config changed');
    t.deepEqual(landed(await web(topo, 30)), { backends: [`${other}:8080`], errors: 0 });
    t.is(await held.ping(), held.backend, 'the drained backend still serves its established connection');
    t.like((await statusOf(topo, h)).get(held.backend), { state: 'drain', active: false });
    await held.close();
  });
});

kernelTest('health: backups take over only when every primary is down, and give back when one returns', async (t) => {
  await withTopology({}, async (topo) => {
    const {
      b: [b0, b1, b2],
      servers,
      h,
    } = await webBackends(topo, ([x, y, z]) => [
      `{ address: ${x}, port: 8080 }`,
      `{ address: ${y}, port: 8080 }`,
      `{ address: ${z}, port: 8080, state: backup }`,
    ]);
    await healthRound(topo, h);
    t.deepEqual(landed(await web(topo, 30)), { backends: [`${b0}:8080`, `${b1}:8080`], errors: 0 });
    await servers.stopOne(b0);
    await healthRound(topo, h);
    await healthRound(topo, h);
    t.deepEqual(
      landed(await web(topo, 20)),
      { backends: [`${b1}:8080`], errors: 0 },
      'one primary left: no backup yet',
    );
    await servers.stopOne(b1);
    await healthRound(topo, h);
    await healthRound(topo, h);
    t.deepEqual(
      landed(await web(topo, 20)),
      { backends: [`${b2}:8080`], errors: 0 },
      'no primary: the backup takes over',
    );
    await startBackends(topo, listenersFor([b0], [8080]));
    await healthRound(topo, h);
    await healthRound(topo, h);
    t.deepEqual(
      landed(await web(topo, 20)),
      { backends: [`${b0}:8080`], errors: 0 },
      'a primary is back: the backup gives back',
    );
  });
});

kernelTest(
  'health: a banner check marks an SMTP-like server answering 220 up and one answering 554 down',
  async (t) => {
    await withTopology({}, async (topo) => {
      const [b0, b1] = topo.backendV4 as [string, string];
      await startBackends(topo, [{ kind: 'tcp', host: b0, port: 25, banner: true }], { banner: '220 mx0 ESMTP ready' });
      await startBackends(topo, [{ kind: 'tcp', host: b1, port: 25, banner: true }], { banner: '554 mx1 no service' });
      const h = healthEnv(
        [
          'table: hc',
          'services:',
          '  - name: smtp',
          `    vip: ${topo.vip4}`,
          '    port: 25',
          '    health: { type: banner, expect: "220", send: "QUIT\\r\\n", rise: 1, fall: 1 }',
          '    backends:',
          `      - { address: ${b0} }`,
          `      - { address: ${b1} }`,
        ].join('\n'),
      );
      const r = await healthRound(topo, h);
      t.deepEqual(r.transitions.map((x) => `${x.endpoint} ${x.to}`).sort(), [`${b0}:25 up`, `${b1}:25 down`]);
      const st = await statusOf(topo, h);
      t.like(st.get(`${b0}:25`), { health: 'up', active: true });
      t.like(st.get(`${b1}:25`), { health: 'down', active: false });
      t.regex(st.get(`${b1}:25`)?.reason ?? '', /554 mx1 no service/);
      const res = await probe(topo, {
        target: topo.vip4,
        port: 25,
        proto: 'tcp',
        count: 20,
        sources: topo.clientV4.slice(0, 5),
        timeoutMs: 2000,
      });
      t.deepEqual(landed(res), { backends: [`${b0}:25`], errors: 0 });
    });
  },
);

kernelTest('health: status before any check shows every backend unknown and active', async (t) => {
  await withTopology({}, async (topo) => {
    const h = healthEnv(config(topo, [`{ address: ${topo.backendV4[0]}, port: 8080 }`]));
    const st = await statusOf(topo, h);
    t.like(st.get(`${topo.backendV4[0]}:8080`), { health: 'unknown', active: true, reason: 'not checked yet' });
    await nftlbIn(topo, h, ['check']);
  });
});
