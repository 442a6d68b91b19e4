// nftlb health with DSR services: membership changes reach the netdev table's maps in the same transaction as the
// guard (which lives in the inet table), and a full load replaces both tables (or deletes a netdev table the config no
// longer has).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FRESH, type HealthRecord } from '../../src/health/machine.js';
import { emptyState, type HealthState } from '../../src/health/state-file.js';
import { sync, type SyncDeps } from '../../src/health/sync.js';
import { FakeSystem } from '../support/fake-system.js';
import { modelOf } from '../support/model.js';

const yaml = (dsr: boolean): string => `
table: hc
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    health: { type: tcp }
    backends:
      - { address: 198.51.100.2 }
      - { address: 198.51.100.3 }
  - name: dns
    vip: 203.0.113.53
    port: 53
    protocol: udp
    scheduler: maglev
    hash: { table-size: 13 }
${dsr ? '    forwarding: dsr\n    interface: eth1\n' : ''}    health: { type: tcp }
    backends:
      - { address: 198.51.100.53 }
      - { address: 198.51.100.54 }
      - { address: 198.51.100.55 }
`;

const withVerdicts = (s: HealthState, v: Record<string, 'up' | 'down'>): HealthState => {
  const backends: Record<string, HealthRecord> = {};
  for (const [k, x] of Object.entries(v)) backends[k] = { ...FRESH, state: x };
  return { ...s, backends };
};

test('a DSR backend going down updates the netdev maps behind the inet guard; a NAT config deletes the netdev table', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nftlb-dsr-sync-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exec = new FakeSystem();
  const deps: SyncDeps = { host: exec.host(dir), lockWaitSeconds: 0 };
  const m = modelOf(yaml(true));
  const first = await sync(deps, m, emptyState('hc'));
  t.is(first.action, 'full');
  t.true(exec.tables.has('inet hc') && exec.tables.has('netdev hc_dsr'));
  t.regex(exec.loads().at(-1)!, /table netdev hc_dsr \{\n[\s\S]*\n\}\nadd chain inet hc health_[0-9a-f]{8}\n$/);

  const down = withVerdicts(first.state, { 'dns/198.51.100.54:53': 'down' });
  const r = await sync(deps, m, down, first.cache);
  t.is(r.action, 'incremental');
  t.deepEqual(r.services, ['dns']);
  const script = exec.loads().at(-1)!;
  t.regex(script, /^flush chain inet hc health_[0-9a-f]{8}\nadd table inet hc\n/);
  // Maglev slots of the one backend change (slot map elements), the chain stays: it goes through the slot map.
  t.regex(script, /delete element netdev hc_dsr slots \{ [0-9, ]+ \}\n/);
  t.regex(script, /add map netdev hc_dsr slots \{ type mark : mark; elements = \{ [0-9 :,]+ \} \}\n$/);
  t.notRegex(script, /inet hc (svc|services)/, 'the inet table is not touched');
  for (const [, id] of script.matchAll(/: (\d+)/g)) t.not(id, '4', 'no slot goes to the backend that is down');

  // Someone deleted the netdev table: the next update is refused (no table to add to, none made bare) and health
  // loads everything again.
  exec.tables.delete('netdev hc_dsr');
  const again = await sync(deps, m, withVerdicts(r.state, { 'dns/198.51.100.55:53': 'down' }), r.cache);
  t.is(again.action, 'full');
  t.regex(again.why, /^incremental update refused/);
  t.regex(exec.tables.get('netdev hc_dsr')?.comment ?? '', /^nftlb fingerprint /);

  // The config loses its DSR service: health's next (full) load deletes the netdev table in the same transaction.
  const nat = await sync(deps, modelOf(yaml(false)), again.state);
  t.is(nat.action, 'full');
  t.regex(
    exec.loads().at(-1)!,
    /add chain inet hc health_[0-9a-f]{8}\ntable netdev hc_dsr \{\}\ndelete table netdev hc_dsr\n$/,
  );
  t.false(exec.tables.has('netdev hc_dsr'));
});
