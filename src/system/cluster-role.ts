import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { readStateFile } from './files.js';
import type { Host } from './host.js';

// nftlb's record of this node's VRRP state, written by `nftlb cluster notify` when keepalived reports a transition and
// read by `nftlb status`. In the run directory: after a reboot keepalived starts again and says.

/** keepalived's states as its notify scripts get them. */
export type VrrpState = 'master' | 'backup' | 'fault';

/** The record. */
export interface RoleRecord {
  readonly state: VrrpState;
  /** When the transition was reported (ISO 8601). */
  readonly since: string;
  /** The conntrackd steps that failed during it (empty when all went through). */
  readonly failed: readonly string[];
}

// The role file of a table.
export function roleFile(host: Host, table: string): string {
  return join(host.cluster.roleDir, `${table}.vrrp.json`);
}

// Writes the record atomically.
export async function writeRole(host: Host, table: string, r: RoleRecord): Promise<void> {
  await writeFileAtomic(roleFile(host, table), `${JSON.stringify(r)}\n`);
}

// The record, or null when there is none (or it cannot be read as one).
export async function readRole(host: Host, table: string): Promise<RoleRecord | null> {
  const text = await readStateFile(roleFile(host, table), 'the VRRP role file');
  if (text === null) return null;
  try {
    const r = JSON.parse(text) as Partial<RoleRecord>;
    if (r.state !== 'master' && r.state !== 'backup' && r.state !== 'fault') return null;
    return {
      state: r.state,
      since: String(r.since ?? ''),
      failed: Array.isArray(r.failed) ? r.failed.map(String) : [],
    };
  } catch {
    return null;
  }
}
