// templates/grafana-dashboard.json: valid JSON whose panels ask only for metrics nftlb emits (status --prometheus and
// the health part of /metrics), so a renamed metric cannot leave a panel empty unnoticed.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { applyCommand } from '../../src/cli/apply.js';
import { HEALTH_METRICS, HealthCounters } from '../../src/cli/health-metrics.js';
import { statusCommand } from '../../src/cli/status.js';
import { fakeSystem } from '../support/fake-system.js';
import { CONFIG, runCommand, scratch } from '../support/run-command.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string }[];
}

const dashboard = JSON.parse(readFileSync('templates/grafana-dashboard.json', 'utf8')) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: { query: string } }[] };
};

const typed = (text: string): Set<string> => new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

// Every metric name status --prometheus writes when every figure is known (live table matching, conntrack with
// accounting), and those health's /metrics adds.
async function emitted(): Promise<Set<string>> {
  const s = scratch(CONFIG);
  const json = JSON.stringify({
    nftables: [{ rule: { chain: 'svc_web_v4', expr: [{ counter: { packets: 7, bytes: 420 } }] } }],
  });
  const exec = fakeSystem({
    json,
    conntrack:
      'tcp 6 100 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=4000 dport=80 packets=1 bytes=60 src=198.51.100.2 dst=203.0.113.10 sport=8080 dport=4000 packets=1 bytes=60 mark=1 use=1',
  });
  const env = { NFTLB_STATE_DIR: s.dir };
  await runCommand(applyCommand, ['-c', s.config, '--lock-file', s.lock], exec, env);
  const prom = await runCommand(statusCommand, ['-c', s.config, '--prometheus'], exec, env);
  const names = typed(prom.stdout);
  for (const n of typed(new HealthCounters().text('nftlb', { ok: false, seconds: 0 }))) names.add(n);
  return names;
}

test('the dashboard is JSON with unique panel ids, a Prometheus datasource and a query in every panel', (t) => {
  t.is(dashboard.uid, 'nftlb');
  const ids = dashboard.panels.map((p) => p.id);
  t.is(new Set(ids).size, ids.length);
  for (const p of dashboard.panels) {
    t.true(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: wider than the grid`);
    if (p.type === 'row') continue;
    t.is(p.datasource?.type, 'prometheus', p.title);
    t.true((p.targets ?? []).length > 0, `${p.title}: no query`);
    for (const q of p.targets ?? []) {
      t.true(q.expr.trim().length > 0, `${p.title}: empty query`);
      for (const [open, close] of [
        ['(', ')'],
        ['{', '}'],
        ['[', ']'],
      ] as const)
        t.is(q.expr.split(open).length, q.expr.split(close).length, `${p.title}: unbalanced ${open}${close}`);
    }
  }
});

test('every metric the dashboard asks for is one nftlb emits, and it shows each kind of figure', async (t) => {
  const names = await emitted();
  for (const m of HEALTH_METRICS) t.true(names.has(m), `${m} is not emitted`);
  const queries = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ where: p.title, expr: q.expr }))),
    ...dashboard.templating.list.map((v) => ({ where: `variable ${v.name}`, expr: v.query.query })),
  ];
  const used = new Set<string>();
  for (const q of queries)
    for (const m of q.expr.matchAll(/\bnftlb_[a-z0-9_]+/g)) {
      used.add(m[0]);
      t.true(names.has(m[0]), `${q.where}: ${m[0]} is not a metric nftlb emits`);
    }
  for (const m of [
    'nftlb_build_info',
    'nftlb_live_matches_config',
    'nftlb_service_new_connections_total',
    'nftlb_backend_connections',
    'nftlb_backend_active',
    'nftlb_health_checks_total',
  ])
    t.true(used.has(m), `no panel shows ${m}`);
});
