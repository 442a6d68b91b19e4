// Backend server run inside the backend namespace; every reply names the exact address:port it
// was received on, so tests can count where the load balancer sent each connection.
//   node backend-server.js --tcp 198.51.100.2:8080 --tcp [2001:db8:2::2]:8080 --udp 198.51.100.2:8053
//          [--banner-tcp 198.51.100.2:25] [--banner "220 ready"] [--max-seconds 600] [--identity 198.51.100.2]
// TCP: on connect "<local> <peer>\n" (after the banner line for --banner-tcp listeners), then every
// received line is echoed as "<local> <peer> <line>\n". UDP: each datagram gets "<local> <peer>\n".
// Prints READY once every listener is bound; exits on SIGTERM/SIGINT, stdin EOF or --max-seconds. --identity names
// the host in the replies instead of the listening address (a DSR backend listens on the VIP, which all of them share).

import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as readline from 'node:readline';
import { hostPort, parseHostPort } from './addresses.js';

interface Listen {
  kind: 'tcp' | 'udp';
  host: string;
  port: number;
  banner: boolean;
}

interface Args {
  listens: Listen[];
  banner: string;
  maxSeconds: number;
  identity: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { listens: [], banner: '220 nftlb-test ready', maxSeconds: 1800, identity: undefined };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for ${flag ?? ''}`);
    if (flag === '--tcp' || flag === '--udp' || flag === '--banner-tcp') {
      const { host, port } = parseHostPort(value);
      args.listens.push({ kind: flag === '--udp' ? 'udp' : 'tcp', host, port, banner: flag === '--banner-tcp' });
    } else if (flag === '--identity') {
      args.identity = value;
    } else if (flag === '--banner') {
      args.banner = value;
    } else if (flag === '--max-seconds') {
      // Capped so that a leftover server always disappears within the hour.
      args.maxSeconds = Math.min(Math.max(Number(value) || 1800, 1), 3600);
    } else {
      throw new Error(`unknown flag ${flag ?? ''}`);
    }
  }
  if (args.listens.length === 0) throw new Error('no --tcp/--udp listener given');
  return args;
}

// IPv4-mapped peers would make the reply depend on socket family; bound sockets are single-family,
// but strip the prefix anyway so the peer is always a plain address.
function plain(addr: string | undefined): string {
  return (addr ?? '?').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

const sockets = new Set<net.Socket>();
const closers: (() => void)[] = [];

function startTcp(l: Listen, banner: string, identity: string | undefined): Promise<void> {
  const me = hostPort(identity ?? l.host, l.port);
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const prefix = `${me} ${plain(sock.remoteAddress)}`;
    sock.on('error', () => sock.destroy()); // clients reset probes on purpose
    sock.on('close', () => sockets.delete(sock));
    if (l.banner) sock.write(`${banner}\n`);
    sock.write(`${prefix}\n`);
    readline
      .createInterface({ input: sock })
      .on('line', (line) => {
        if (!sock.destroyed) sock.write(`${prefix} ${line}\n`);
      })
      // readline re-emits socket errors; unhandled, one reset probe would kill the whole server.
      .on('error', () => sock.destroy());
  });
  closers.push(() => server.close());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Exact address, no dual-stack: the listener identifies the backend address that was hit.
    server.listen({ host: l.host, port: l.port, ipv6Only: net.isIPv6(l.host), backlog: 1024 }, () => resolve());
  });
}

function startUdp(l: Listen, identity: string | undefined): Promise<void> {
  const me = hostPort(identity ?? l.host, l.port);
  const sock = dgram.createSocket(net.isIPv6(l.host) ? 'udp6' : 'udp4');
  closers.push(() => sock.close());
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.on('message', (_msg, rinfo) => {
      sock.send(`${me} ${plain(rinfo.address)}\n`, rinfo.port, rinfo.address);
    });
    sock.bind({ address: l.host, port: l.port }, () => {
      sock.off('error', reject);
      sock.on('error', () => undefined); // e.g. ICMP errors for unreachable clients
      resolve();
    });
  });
}

function shutdown(code: number): never {
  for (const close of closers) {
    try {
      close();
    } catch {
      // already closed
    }
  }
  for (const sock of sockets) sock.destroy();
  process.exit(code);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.once('SIGTERM', () => shutdown(0));
  process.once('SIGINT', () => shutdown(0));
  setTimeout(() => shutdown(0), args.maxSeconds * 1000).unref();
  // The harness keeps our stdin open; EOF means it died without stopping us.
  process.stdin.on('end', () => shutdown(0));
  process.stdin.resume();
  await Promise.all(
    args.listens.map((l) => (l.kind === 'tcp' ? startTcp(l, args.banner, args.identity) : startUdp(l, args.identity))),
  );
  process.stdout.write('READY\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`backend-server: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
