import { NftlbError } from '../common/errors.js';
import { endpointText, parseAddress } from '../model/address.js';
import type { Address, HashField, Model } from '../model/types.js';
import { pickFor, type Flow } from '../nft/flow-hash.js';
import type { Plan, PlannedService, Pool } from '../plan/types.js';
import type { Host } from '../system/host.js';
import { loadModel } from '../system/config-file.js';
import { desiredPlan } from './desired.js';

// `nftlb which`: the backend a hash scheduler gives each client, computed offline exactly as the kernel does (the
// registers' bytes, jhash with the service's seed, reciprocal_scale, the slot table), with the health verdicts the live
// table was built with. Every node with the same config and verdicts gives the same answer.

/** One client as given on the command line: ADDRESS or ADDRESS:PORT ([v6]:PORT). */
export interface Client {
  readonly text: string;
  readonly address: Address;
  readonly port: number | undefined;
}

/** The answer for one client. */
export interface WhichAnswer {
  readonly client: string;
  readonly vip: string;
  readonly dport: number | null;
  /** The backend's endpoint, or null when no backend takes new connections (the service's on-empty verdict). */
  readonly backend: string | null;
  readonly id: number | null;
  /** The hash slot (0 .. modulus-1), or null for a one-backend pool (a constant) or an empty one. */
  readonly slot: number | null;
}

/** Everything `nftlb which` prints (its --json output). */
export interface WhichReport {
  readonly service: string;
  readonly scheduler: string;
  readonly fields: readonly HashField[];
  readonly seed: number;
  /** Why an answer may differ for a live client: persistence entries come first. */
  readonly notes: readonly string[];
  readonly answers: readonly WhichAnswer[];
}

// Parses CLIENT[:PORT]: 203.0.113.10, 203.0.113.10:40000, 2001:db8::10, [2001:db8::10]:40000.
export function parseClient(text: string): Client | undefined {
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4port = /^([0-9.]+):(\d{1,5})$/.exec(text);
  const [host, port] =
    bracket !== null ? [bracket[1]!, bracket[2]] : v4port !== null ? [v4port[1]!, v4port[2]] : [text];
  const address = parseAddress(host);
  const n = port === undefined ? undefined : Number(port);
  if (address === undefined || (n !== undefined && (n < 1 || n > 65535))) return undefined;
  return { text, address, port: n };
}

// Loads the config and answers for each client.
export async function whichBackend(
  host: Host,
  o: { config: string; service: string; clients: readonly Client[]; vip?: string; port?: number },
): Promise<WhichReport> {
  const { model } = await loadModel(o.config);
  const { plan } = await desiredPlan(model, host);
  return answer(model, plan, o);
}

// The pure part: the answers from a model and the plan of its live table.
export function answer(
  model: Model,
  p: Plan,
  o: { service: string; clients: readonly Client[]; vip?: string; port?: number },
): WhichReport {
  const i = model.services.findIndex((s) => s.name === o.service);
  const s = model.services[i];
  const ps = p.services[i];
  if (s === undefined || ps === undefined)
    throw new NftlbError(
      'usage',
      `no service ${o.service} in the config (services: ${model.services.map((x) => x.name).join(', ') || 'none'})`,
    );
  const sch = s.scheduler;
  if (sch.kind !== 'source-hash' && sch.kind !== 'maglev')
    throw new NftlbError(
      'unsupported',
      `service ${s.name} uses ${sch.kind}, which has no offline answer: ${
        sch.kind === 'symmetric-hash'
          ? 'symhash hashes with a key the kernel chose at boot (nft does not show it)'
          : sch.kind === 'round-robin'
            ? "round-robin follows each node's own counter"
            : 'random draws a number for each new connection'
      }; nftlb which answers source-hash and maglev services`,
    );
  const vip = o.vip === undefined ? undefined : parseAddress(o.vip);
  if (o.vip !== undefined && vip === undefined) throw new NftlbError('usage', `--vip ${o.vip} is not an address`);
  const answers = o.clients.map((c) => answerOne(ps, c, sch.fields, vip, o.port));
  const notes =
    s.persistence === undefined
      ? []
      : [
          `service ${s.name} has persistence: a client with a live entry keeps its backend first (nftlb persistence list --client ADDRESS)`,
        ];
  return { service: s.name, scheduler: sch.kind, fields: sch.fields, seed: sch.seed, notes, answers };
}

function answerOne(
  s: PlannedService,
  c: Client,
  fields: readonly HashField[],
  vipOption: Address | undefined,
  portOption: number | undefined,
): WhichAnswer {
  const pool = s.pools.find((x) => x.family === c.address.family);
  if (pool === undefined)
    throw new NftlbError('usage', `client ${c.text}: service ${s.name} has no IPv${c.address.family} VIP`);
  const daddr = vipOf(s, pool, c, vipOption, fields.includes('daddr'));
  const dport = portOf(s, c, portOption, fields.includes('dport'));
  if (fields.includes('sport') && c.port === undefined)
    throw new NftlbError(
      'usage',
      `client ${c.text}: service ${s.name} hashes the client port too (hash.fields ${fields.join(', ')}): give ${c.text}:PORT`,
    );
  const flow: Flow = { saddr: c.address, daddr, sport: c.port ?? 0, dport: dport ?? 0 };
  const pick = pickFor(pool, flow);
  if (pick.kind === 'unknowable') throw new NftlbError('unsupported', `service ${s.name}: ${pick.why}`);
  const b = pick.kind === 'backend' ? s.backends.find((x) => x.id === pick.id) : undefined;
  return {
    client: c.port === undefined ? c.address.text : endpointText(c.address, c.port),
    vip: daddr.text,
    dport: dport ?? null,
    backend: b?.endpoint ?? null,
    id: b?.id ?? null,
    slot: pick.kind === 'backend' ? (pick.slot ?? null) : null,
  };
}

// The VIP of the client's family the connection goes to: --vip, or the pool's only one (needed only when daddr is
// hashed; otherwise the first, for the answer's text).
function vipOf(s: PlannedService, pool: Pool, c: Client, vip: Address | undefined, hashed: boolean): Address {
  if (vip !== undefined) {
    const found = pool.vips.find((v) => v.text === vip.text);
    if (found === undefined)
      throw new NftlbError(
        'usage',
        `--vip ${vip.text} is not an IPv${c.address.family} VIP of service ${s.name} (${pool.vips.map((v) => v.text).join(', ')})`,
      );
    return found;
  }
  if (hashed && pool.vips.length > 1)
    throw new NftlbError(
      'usage',
      `service ${s.name} hashes the VIP and has ${pool.vips.length} IPv${c.address.family} VIPs: give --vip (${pool.vips.map((v) => v.text).join(', ')})`,
    );
  return pool.vips[0]!;
}

// The service port the connection goes to: --port, or the service's only port (needed only when dport is hashed).
function portOf(s: PlannedService, c: Client, port: number | undefined, hashed: boolean): number | undefined {
  const only = s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last ? s.ports[0]!.first : undefined;
  if (port !== undefined) {
    if (!s.ports.some((r) => port >= r.first && port <= r.last))
      throw new NftlbError('usage', `--port ${port} is not a port of service ${s.name}`);
    return port;
  }
  if (hashed && only === undefined)
    throw new NftlbError(
      'usage',
      `client ${c.text}: service ${s.name} hashes the service port and listens on several: give --port`,
    );
  return only;
}
