import { NftlbError } from '../common/errors.js';
import type { Model } from '../model/types.js';
import type { Plan } from '../plan/types.js';
import { birdProtocols, setBirdProtocol } from '../system/birdc.js';
import type { Host } from '../system/host.js';
import { vipProtocol } from './names.js';
import { clusterVips } from './vips.js';

// ecmp: which VIPs this node announces. A VIP is announced while this node can serve it: the live table was loaded
// from `plan` (nftlb health says so after each sync that went through) and some service on the VIP has a backend of
// the VIP's family taking new connections (on-empty keep's last known set counts: the operator asked to keep
// balancing). Everything else is withdrawn, so a node whose checks find no backend, or whose table is not loaded,
// leaves the router's ECMP group.
export function servedVips(model: Model, p: Plan | undefined): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const v of clusterVips(model)) out.set(vipProtocol(v), false);
  if (p === undefined) return out;
  for (const s of p.services)
    for (const pool of s.pools) if (pool.selector !== null) for (const v of pool.vips) out.set(vipProtocol(v), true);
  return out;
}

/** What the announcer did or found, for nftlb health's log. */
export interface AnnounceEvent {
  readonly protocol: string;
  readonly vip: string;
  readonly announced: boolean;
}

// Keeps BIRD's VIP protocols as servedVips says: `served(plan)` after each sync, `withdrawAll()` when nftlb health
// stops, and `reconcile()` every few seconds, so a BIRD that was restarted (every VIP disabled again) or changed by
// hand gets the right state back. The VIP of an earlier config (a SIGHUP took it out before BIRD was configured
// again) is withdrawn; a protocol the config names that BIRD lacks is reported, and the others are still set. Calls
// never overlap; a failure goes to onError once per distinct message (withdrawAll reports its own whatever came
// before: it is the last word).
export class Announcer {
  private want: Map<string, boolean>;
  /** The VIP protocols (and their VIPs) of every config this announcer was given: what the current one lacks is
   *  withdrawn. */
  private readonly known = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private lastError = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: Host,
    private model: Model,
    private readonly onChange: (e: AnnounceEvent) => void,
    private readonly onError: (e: unknown) => void,
  ) {
    // Nothing is announced before the first sync says the table is loaded.
    this.want = this.wanted(servedVips(model, undefined));
  }

  // The live table now holds `p`: announce what it serves, withdraw the rest.
  served(p: Plan, model: Model = this.model): Promise<void> {
    this.model = model;
    this.want = this.wanted(servedVips(model, p));
    return this.reconcile();
  }

  // Withdraw every VIP (nftlb health stops: nobody keeps checking the backends).
  withdrawAll(): Promise<void> {
    this.want = this.wanted(servedVips(this.model, undefined));
    this.chain = this.chain.then(() => {
      this.lastError = '';
    });
    return this.reconcile();
  }

  // Makes BIRD's protocols match what is wanted (one `show protocols`, then an enable or disable per difference).
  reconcile(): Promise<void> {
    const want = this.want;
    this.chain = this.chain.then(() => this.apply(want));
    return this.chain;
  }

  // Reconciles every `ms` milliseconds until stop() (the timer does not keep the process alive).
  start(ms: number): void {
    this.stop();
    this.timer = setInterval(() => void this.reconcile(), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async apply(want: ReadonlyMap<string, boolean>): Promise<void> {
    try {
      const live = new Map((await birdProtocols(this.host)).map((p) => [p.name, p.state]));
      for (const [name, on] of want) {
        const state = live.get(name);
        if (state === undefined || (state === 'up') === on) continue;
        await setBirdProtocol(this.host, name, on);
        this.onChange({ protocol: name, vip: this.vipOf(name), announced: on });
      }
      const missing = clusterVips(this.model)
        .map(vipProtocol)
        .filter((name) => !live.has(name));
      if (missing.length > 0)
        throw new NftlbError(
          'engine-failed',
          `BIRD has no protocol ${missing.join(', ')}: load the configuration of nftlb render --format bird (birdc configure)`,
        );
      this.lastError = '';
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (msg !== this.lastError) this.onError(e);
      this.lastError = msg;
    }
  }

  // What the config serves, and every VIP of an earlier config withdrawn.
  private wanted(served: Map<string, boolean>): Map<string, boolean> {
    for (const name of this.known.keys()) if (!served.has(name)) served.set(name, false);
    for (const v of clusterVips(this.model)) this.known.set(vipProtocol(v), v.text);
    return served;
  }

  private vipOf(name: string): string {
    return this.known.get(name) ?? name;
  }
}
