import type { Topology } from './topology.js';

// Opens `count` TCP connections from the client namespace all at once (one burst, no waiting between them), each given
// up to timeoutMs to complete its handshake (below the 1 s SYN retransmit, so a dropped SYN stays a failure); returns
// how many connected and the failures by error code.
export async function connectBurst(
  topo: Topology,
  target: string,
  port: number,
  count: number,
  timeoutMs = 500,
): Promise<{ ok: number; failed: Record<string, number> }> {
  if (count > 1000) throw new Error('connectBurst count is limited to 1000');
  const script = `
const net = require('node:net');
const [target, port, count, timeoutMs] = JSON.parse(process.argv[1]);
const one = () => new Promise((resolve) => {
  const sock = net.connect({ host: target, port });
  const done = (r) => { clearTimeout(timer); sock.destroy(); resolve(r); };
  const timer = setTimeout(() => done('timeout'), timeoutMs);
  sock.on('connect', () => done('ok'));
  sock.on('error', (e) => done(e.code || 'error'));
});
Promise.all(Array.from({ length: count }, one)).then((rs) => process.stdout.write(JSON.stringify(rs)));
`;
  const r = await topo.exec(
    topo.client,
    [process.execPath, '-e', script, JSON.stringify([target, port, count, timeoutMs])],
    { timeoutMs: 30000 },
  );
  const results = JSON.parse(r.stdout) as string[];
  const failed: Record<string, number> = {};
  for (const x of results) if (x !== 'ok') failed[x] = (failed[x] ?? 0) + 1;
  return { ok: results.filter((x) => x === 'ok').length, failed };
}

// Waits (bounded: 100 x 50 ms) until conntrack in the lb namespace holds exactly `established` ESTABLISHED tcp entries
// with ct mark `mark`, so a test acts only after a close has reached conntrack.
export async function waitEstablished(topo: Topology, mark: number, established: number): Promise<void> {
  let seen = -1;
  for (let i = 0; i < 100; i++) {
    const r = await topo.exec(topo.lb, ['conntrack', '-L', '-p', 'tcp', '--mark', String(mark)], { reject: false });
    seen = r.stdout.split('\n').filter((l) => l.includes(' ESTABLISHED ')).length;
    if (seen === established) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`ct mark ${mark}: ${seen} ESTABLISHED connections, expected ${established}`);
}
