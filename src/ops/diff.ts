import { loadModel } from '../system/config-file.js';
import { renderNftScript } from '../nft/script.js';
import type { Host } from '../system/host.js';
import {
  foreignTables,
  liveState,
  previousFingerprint,
  readOwnedTables,
  type OwnedTable,
} from '../system/owned-tables.js';
import { applyRecordFile, readApplyRecord } from './apply-record.js';
import { desiredPlan } from './desired.js';
import { judgeNoop, readNoopRecord, unprovenNote } from './noop.js';
import { forwardView, viewOf, type ServiceView } from './view.js';

/** One difference between the live table and the config, in the config's terms. */
export type Change =
  | { readonly kind: 'service-added' | 'service-removed'; readonly service: string }
  | {
      readonly kind: 'service-changed';
      readonly service: string;
      readonly field: string;
      readonly from: string;
      readonly to: string;
    }
  | { readonly kind: 'backend-added' | 'backend-removed'; readonly service: string; readonly backend: string }
  | {
      readonly kind: 'backend-changed';
      readonly service: string;
      readonly backend: string;
      readonly field: 'weight' | 'state';
      readonly from: string;
      readonly to: string;
    }
  /** The forward filter changed (forwardView text: "none", "policy drop, accept ..."). */
  | { readonly kind: 'forward-changed'; readonly from: string; readonly to: string }
  /** The live table's content is not known in config terms (not loaded by nftlb apply here, or not nftlb's at all). */
  | { readonly kind: 'table-replaced'; readonly reason: string };

/** What `nftlb diff` reports (its --json output, with command added). */
export interface DiffResult {
  readonly table: string;
  readonly live: 'absent' | 'matches' | 'differs' | 'foreign';
  readonly fingerprint: { readonly config: string; readonly live: string | null };
  readonly changes: readonly Change[];
  /** Said beside "nothing to change" when that rests on the fingerprint alone (see unprovenNote). */
  readonly note?: string;
}

// What apply would change. The live table is known in config terms through the record of the last apply, which is
// trusted only while the live table still carries the fingerprint it was recorded with.
export async function readDiff(host: Host, o: { config: string }): Promise<DiffResult> {
  const { model } = await loadModel(o.config);
  const { plan: p } = await desiredPlan(model, host);
  const { fingerprint, tables } = renderNftScript(p);
  const want = viewOf(p);
  const owned = await readOwnedTables(host, p.table);
  const state = liveState(owned, tables, fingerprint);
  const previous = previousFingerprint(owned);
  const base = { table: p.table, fingerprint: { config: fingerprint, live: previous } };
  if (state === 'absent') return { ...base, live: 'absent', changes: diffServices([], want) };
  if (state === 'foreign') {
    const t = foreignTables(owned, tables)[0]!;
    return {
      ...base,
      live: 'foreign',
      changes: [{ kind: 'table-replaced', reason: `table ${t.family} ${t.name} was not made by nftlb` }],
    };
  }
  if (state === 'matches') {
    const note = unprovenNote(await judgeNoop(host, o.config, await readNoopRecord(host, o.config)));
    return { ...base, live: 'matches', changes: [], ...(note === undefined ? {} : { note }) };
  }
  // The services in config terms are known only when every table of nftlb's carries the recorded fingerprint (a
  // netdev table missing or left over is a change the record cannot name).
  const rec = await readApplyRecord(applyRecordFile(host.runDir, p.table));
  if (rec === null || previous === null || rec.fingerprint !== previous || !ownedLike(owned, rec.fingerprint)) {
    return {
      ...base,
      live: 'differs',
      changes: [
        {
          kind: 'table-replaced',
          reason: `the live table (fingerprint ${previous ?? 'none'}) was not loaded by nftlb apply on this host, so its content is not known in config terms`,
        },
      ],
    };
  }
  const changes = diffServices(rec.services, want);
  const forward = { from: rec.forward ?? 'none', to: forwardView(p) };
  if (forward.from !== forward.to) changes.push({ kind: 'forward-changed', ...forward });
  // Same services in config terms but another fingerprint (e.g. another nftlb version rendered it): still a reload.
  return {
    ...base,
    live: 'differs',
    changes:
      changes.length > 0
        ? changes
        : [
            {
              kind: 'table-replaced',
              reason: 'same services, different rendering (another nftlb version or health verdicts)',
            },
          ],
  };
}

// True when every present table of nftlb's carries `fingerprint` (one load made all of them).
function ownedLike(owned: readonly OwnedTable[], fingerprint: string): boolean {
  return owned.every((t) => t.live.kind === 'absent' || t.live.fingerprint === fingerprint);
}

// Compares two service lists by name, then backends by endpoint.
export function diffServices(from: readonly ServiceView[], to: readonly ServiceView[]): Change[] {
  const out: Change[] = [];
  const old = new Map(from.map((s) => [s.name, s]));
  const neu = new Map(to.map((s) => [s.name, s]));
  for (const s of from) if (!neu.has(s.name)) out.push({ kind: 'service-removed', service: s.name });
  for (const s of to) {
    const o = old.get(s.name);
    if (o === undefined) {
      out.push({ kind: 'service-added', service: s.name });
      for (const b of s.backends) out.push({ kind: 'backend-added', service: s.name, backend: b.endpoint });
      continue;
    }
    const fields: [string, string, string][] = [
      ['vip', o.vips.join(', '), s.vips.join(', ')],
      ['protocol', o.protocols.join(', '), s.protocols.join(', ')],
      ['port', o.ports.join(', '), s.ports.join(', ')],
      ['scheduler', o.scheduler, s.scheduler],
      ['nat', o.nat, s.nat],
      // Records written before DSR have no forwarding: they were all NAT.
      ['forwarding', o.forwarding ?? 'nat', s.forwarding ?? 'nat'],
      ['on-empty', o.onEmpty, s.onEmpty],
      ['persistence', o.persistence ?? 'none', s.persistence ?? 'none'],
      ['log', o.log ?? 'none', s.log ?? 'none'],
    ];
    for (const [field, a, b] of fields)
      if (a !== b) out.push({ kind: 'service-changed', service: s.name, field, from: a, to: b });
    const ob = new Map(o.backends.map((b) => [b.endpoint, b]));
    const nb = new Map(s.backends.map((b) => [b.endpoint, b]));
    for (const b of o.backends)
      if (!nb.has(b.endpoint)) out.push({ kind: 'backend-removed', service: s.name, backend: b.endpoint });
    for (const b of s.backends) {
      const p = ob.get(b.endpoint);
      if (p === undefined) out.push({ kind: 'backend-added', service: s.name, backend: b.endpoint });
      else {
        if (p.weight !== b.weight)
          out.push({
            kind: 'backend-changed',
            service: s.name,
            backend: b.endpoint,
            field: 'weight',
            from: String(p.weight),
            to: String(b.weight),
          });
        if (p.state !== b.state)
          out.push({
            kind: 'backend-changed',
            service: s.name,
            backend: b.endpoint,
            field: 'state',
            from: p.state,
            to: b.state,
          });
      }
    }
  }
  return out;
}
