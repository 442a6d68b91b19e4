import { IDENTITY } from '../common/version.js';
import type { Model } from '../model/types.js';
import { birdProtocols } from '../system/birdc.js';
import { readRole } from '../system/cluster-role.js';
import type { Host } from '../system/host.js';
import { configFingerprint } from './fingerprint.js';
import { peerProtocol, vipProtocol } from './names.js';
import { findNode } from './node.js';
import { clusterVips } from './vips.js';

/** This node's part in the cluster, for `nftlb status`. */
export interface ClusterStatus {
  /** The node this host is, or null when neither --node, $NFTLB_NODE nor the hostname names one. */
  readonly node: string | null;
  readonly mode: 'ecmp' | 'vrrp';
  /** ecmp: announcing (every VIP), partial, withdrawn (none); vrrp: master, backup, fault; unknown when the engine
   *  cannot be asked (reason says why). */
  readonly role: string;
  readonly reason: string | null;
  /** The config's fingerprint: nodes that show different ones run different configs. */
  readonly fingerprint: string;
  readonly version: string;
  /** ecmp: each VIP and whether BIRD announces it (null: unknown). */
  readonly vips: readonly { readonly vip: string; readonly announced: boolean | null }[];
  /** ecmp: each BGP session and its state (Established, Active, ...; null: unknown). */
  readonly peers: readonly { readonly peer: string; readonly state: string | null }[];
  /** vrrp: since when this node is in its state. */
  readonly since: string | null;
}

// Reads this node's role: from BIRD's protocols (ecmp) or from nftlb's VRRP role file (vrrp).
export async function clusterStatus(host: Host, model: Model): Promise<ClusterStatus | undefined> {
  const c = model.cluster;
  if (c === undefined) return undefined;
  const node = findNode(c, host.cluster);
  const base = {
    node: node?.name ?? null,
    mode: c.mode,
    fingerprint: configFingerprint(model),
    version: IDENTITY,
  };
  if (c.mode === 'vrrp') {
    const r = await readRole(host, model.table);
    return {
      ...base,
      role: r?.state ?? 'unknown',
      reason:
        r === null
          ? 'no VRRP transition recorded yet (keepalived runs nftlb cluster notify)'
          : r.failed.length > 0
            ? `conntrackd steps of that transition failed: ${r.failed.join(', ')} (is conntrackd running? its connections may not have been taken over)`
            : null,
      vips: [],
      peers: [],
      since: r?.since ?? null,
    };
  }
  const vips = clusterVips(model);
  let live: Map<string, { state: string; info: string }> | undefined;
  let reason: string | null = null;
  try {
    live = new Map((await birdProtocols(host)).map((p) => [p.name, p]));
  } catch (e) {
    reason = e instanceof Error ? e.message : String(e);
  }
  const announced = vips.map((v) => ({
    vip: v.text,
    announced: live === undefined ? null : live.get(vipProtocol(v))?.state === 'up',
  }));
  const n = announced.filter((v) => v.announced === true).length;
  return {
    ...base,
    role: live === undefined ? 'unknown' : n === 0 ? 'withdrawn' : n === vips.length ? 'announcing' : 'partial',
    reason,
    vips: announced,
    peers: (node?.peers ?? []).map((p) => {
      const s = live?.get(peerProtocol(p.address));
      return { peer: p.address.text, state: live === undefined ? null : (s?.info.split(' ')[0] ?? 'absent') };
    }),
    since: null,
  };
}
