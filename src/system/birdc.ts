import { NftlbError } from '../common/errors.js';
import type { Host } from './host.js';

// BIRD 2 through birdc on its control socket: the protocol list, and enabling or disabling a protocol (nftlb announces
// a VIP by enabling its static protocol, withdraws it by disabling it). One birdc run per command: birdc reading
// commands from a pipe echoes them with terminal control characters.

/** One line of `birdc show protocols`. */
export interface BirdProtocol {
  readonly name: string;
  readonly proto: string;
  /** up, down, start, stop (BIRD's protocol state). */
  readonly state: string;
  /** The rest of the line: a BGP session's state (Established, Active, Connect, ...), or ''. */
  readonly info: string;
}

// Runs one birdc command; a failure (no socket, BIRD not running, a refused command) is an engine-failed error.
async function birdc(host: Host, args: readonly string[]): Promise<string> {
  const c = host.cluster;
  const r = await host.exec.run(c.birdc, ['-s', c.birdSocket, ...args]);
  const text = `${r.stdout}${r.stderr}`.trim();
  if (r.exitCode !== 0 || /^(syntax error|unknown command|Unable to connect)/m.test(text))
    throw new NftlbError(
      'engine-failed',
      `birdc -s ${c.birdSocket} ${args.join(' ')}: ${text.split('\n').slice(-1)[0] ?? `exit ${r.exitCode}`}`,
      { detail: 'is BIRD running with that control socket (bird -s SOCKET)? $NFTLB_CLUSTER_DIR sets its path' },
    );
  return r.stdout;
}

// `birdc show protocols`, parsed.
export async function birdProtocols(host: Host): Promise<BirdProtocol[]> {
  return parseProtocols(await birdc(host, ['show', 'protocols']));
}

// Enables (announces) or disables (withdraws) one protocol.
export async function setBirdProtocol(host: Host, name: string, enabled: boolean): Promise<void> {
  await birdc(host, [enabled ? 'enable' : 'disable', name]);
}

// The table of `show protocols`: a header `Name Proto Table State Since Info`, then one protocol per line.
export function parseProtocols(text: string): BirdProtocol[] {
  const out: BirdProtocol[] = [];
  let header = false;
  for (const line of text.split('\n')) {
    if (/^Name\s+Proto\s+Table\s+State/.test(line)) {
      header = true;
      continue;
    }
    if (!header) continue;
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+(?: \S+)?)\s*(.*)$/.exec(line.trimEnd());
    if (m === null) continue;
    // Since is a time (12:00:01.123) or a date and a time; what follows it is Info.
    const rest = m[5]!.split(' ');
    const info = rest.length > 1 && !/^\d/.test(rest[1]!) ? `${rest[1]} ${m[6]}`.trim() : m[6]!.trim();
    out.push({ name: m[1]!, proto: m[2]!, state: m[4]!, info });
  }
  return out;
}
