import { resolve } from 'node:path';
import { NftlbError } from '../common/errors.js';
import type { Model } from '../model/types.js';
import type { Host } from '../system/host.js';
import { renderBird } from './bird.js';
import { renderConntrackd } from './conntrackd.js';
import { configFingerprint } from './fingerprint.js';
import { renderKeepalived } from './keepalived.js';
import { thisNode } from './node.js';

/** The engines' configurations `nftlb render --format` writes, and the cluster mode each belongs to. */
export const ENGINE_FORMATS = { bird: 'ecmp', keepalived: 'vrrp', conntrackd: 'vrrp' } as const;
export type EngineFormat = keyof typeof ENGINE_FORMATS;

/** Default program keepalived's notify scripts run (the Debian package's). */
export const DEFAULT_PROGRAM = '/usr/bin/nftlb';

// One engine's configuration for this host's node (--node, $NFTLB_NODE or the hostname). Refused (usage) when the
// config has no cluster section of that format's mode, or this host is no node of it.
export function renderEngine(
  format: EngineFormat,
  model: Model,
  host: Host,
  o: { config: string; program?: string | undefined },
): string {
  const c = model.cluster;
  const mode = ENGINE_FORMATS[format];
  if (c === undefined || c.mode !== mode)
    throw new NftlbError(
      'usage',
      `--format ${format} renders the ${format} configuration of a cluster in mode ${mode}; ${
        c === undefined ? 'the config has no cluster section' : `the cluster's mode is ${c.mode}`
      }`,
    );
  const node = thisNode(c, host.cluster);
  const fingerprint = configFingerprint(model);
  if (c.mode === 'ecmp') return renderBird(model, c, node, { config: o.config, fingerprint });
  if (format === 'conntrackd')
    return renderConntrackd(c, node, {
      files: { socket: host.cluster.conntrackdSocket, lock: host.cluster.conntrackdLock },
      fingerprint,
    });
  const words = [o.program ?? DEFAULT_PROGRAM, resolve(o.config), host.cluster.dir ?? ''];
  // keepalived splits a script on white space and reads it inside double quotes.
  if (words.some((w) => /["\\\n]/.test(w)) || /\s/.test(words[1]!) || /\s/.test(words[2]!))
    throw new NftlbError(
      'usage',
      'the config path, the cluster directory and --program must not contain quotes or backslashes (nor the paths white space): keepalived reads its notify scripts as one quoted line',
    );
  return renderKeepalived(model, c, node, {
    notify: { program: words[0]!, config: words[1]!, clusterDir: host.cluster.dir },
    fingerprint,
  });
}
