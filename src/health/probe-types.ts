import type { Address } from '../model/types.js';
import type { VipCheck } from '../plan/types.js';

/** Where a check connects: the backend's address and the probed port (undefined only for exec checks). */
export interface ProbeTarget {
  readonly address: Address;
  readonly port: number | undefined;
  /** DSR health target vip: connect to the VIP from this source port instead (the balancer's lo egress hook sends it
   *  to the backend at `address`). */
  readonly via?: VipCheck;
}

/** Outcome of one check: pass or fail, why, and how long it took. */
export interface ProbeResult {
  readonly ok: boolean;
  /** Short human text: "connected", "banner 554 ...", "status 503", "timeout after 1000 ms", "ECONNREFUSED". */
  readonly reason: string;
  readonly ms: number;
  /** No verdict: the check was ended from outside (see CheckRun); the backend's record stays as it was. */
  readonly inconclusive?: true;
}
