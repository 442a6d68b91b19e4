import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

// What a socket check does once connected: nothing (tcp), or send text and read until `done` says the reply is complete.
export interface Conversation {
  readonly send: string | undefined;
  /** Returns a verdict once enough of the reply has arrived, or undefined to keep reading. */
  readonly judge: ((reply: string, ended: boolean) => { ok: boolean; reason: string } | undefined) | undefined;
}

/** TLS for a socket check (https): the handshake, with the server name and the certificate check, comes first. */
export interface TlsOptions {
  /** Server name sent (SNI) and verified; undefined: none is sent and the certificate must name the address. */
  readonly servername: string | undefined;
  /** The CA certificates (a context made once per CA file); undefined: Node's built-in CA list. */
  readonly secureContext: tls.SecureContext | undefined;
  /** false accepts any certificate (no-verify). */
  readonly verify: boolean;
}

const MAX_REPLY = 16384;

// Connects to the target (with TLS when `secure` is given) and runs the conversation; every outcome (refused, reset,
// timeout, a certificate not accepted, wrong reply) is a result, never an exception. The socket is destroyed in all
// cases, so no probe outlives its timeout.
export async function socketProbe(
  target: ProbeTarget,
  timeoutMs: number,
  talk: Conversation,
  secure?: TlsOptions,
): Promise<ProbeResult> {
  const started = Date.now();
  const via = target.via;
  let from: string;
  try {
    from = via === undefined ? '' : await sourceAddress(target.address);
  } catch (e) {
    return {
      ok: false,
      reason: `no route to ${target.address.text}: ${(e as NodeJS.ErrnoException).code ?? ''}`,
      ms: 0,
    };
  }
  return new Promise((resolve) => {
    let settled = false;
    let reply = '';
    // A VIP-path probe (DSR): to the VIP from the balancer's address towards the backend and the backend's own source
    // port, which the netdev table forwards to that backend.
    const host = via === undefined ? target.address.text : via.vip.text;
    const port = via === undefined ? (target.port ?? 0) : via.port;
    const local = via === undefined ? {} : { localAddress: from, localPort: via.sourcePort };
    const sock =
      secure === undefined
        ? net.connect({ host, port, ...local })
        : tls.connect({
            host,
            port,
            ...local,
            // No servername: no SNI (host is an address, which Node never sends as one), and Node then checks the
            // certificate against the address instead of a name.
            servername: secure.servername,
            secureContext: secure.secureContext,
            rejectUnauthorized: secure.verify,
          });
    const finish = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The VIP-path probe reuses its source port every round: a reset leaves no TIME_WAIT that would refuse the next.
      if (via !== undefined && sock.readyState === 'open') sock.resetAndDestroy();
      else sock.destroy();
      resolve({
        ok,
        reason: via === undefined ? reason : `via VIP ${via.vip.text}: ${reason}`,
        ms: Date.now() - started,
      });
    };
    const timer = setTimeout(
      () =>
        finish(
          false,
          `timeout after ${timeoutMs} ms${reply === '' ? '' : ` (got ${JSON.stringify(firstLine(reply))})`}`,
        ),
      timeoutMs,
    );
    sock.setEncoding('latin1');
    sock.once(secure === undefined ? 'connect' : 'secureConnect', () => {
      if (talk.send !== undefined) sock.write(talk.send);
      if (talk.judge === undefined) finish(true, secure === undefined ? 'connected' : 'TLS handshake done');
    });
    sock.on('data', (chunk: string) => {
      reply = (reply + chunk).slice(0, MAX_REPLY);
      const v = talk.judge?.(reply, false);
      if (v !== undefined) finish(v.ok, v.reason);
    });
    sock.once('end', () => {
      const v = talk.judge?.(reply, true) ?? { ok: false, reason: 'closed without a reply' };
      finish(v.ok, v.reason);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => finish(false, errorReason(e, secure !== undefined)));
  });
}

// The address this host sends from towards `to` (the route's source): a UDP socket's connect() picks it and sends
// nothing. The VIP-path probe binds it, so the backend's reply comes back over the segment.
function sourceAddress(to: ProbeTarget['address']): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(to.family === 6 ? 'udp6' : 'udp4');
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.connect(9, to.text, () => {
      const a = s.address().address;
      s.close();
      resolve(a);
    });
  });
}

// A socket error as a short reason: the errno code (ECONNREFUSED), or for TLS what went wrong with the certificate or
// the handshake, with OpenSSL's or Node's code.
function errorReason(e: NodeJS.ErrnoException, secure: boolean): string {
  const code = e.code ?? '';
  if (!secure || (/^E[A-Z]+$/.test(code) && code !== 'EPROTO')) return code === '' ? e.message : code;
  // OpenSSL's own errors read `<hex>:error:<code>:<library>:<function>:<reason>:<file>:<line>:`: keep the reason.
  const ssl = /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+)/.exec(e.message);
  const message = ssl !== null ? ssl[1]! : firstLine(e.message).replace(/\.$/, '');
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) return `TLS handshake failed: ${message}`;
  return `certificate not accepted: ${message}${code === '' ? '' : ` (${code})`}`;
}

// The first line of a reply, without its line ending, for reasons and prefix checks.
export function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '').slice(0, 120);
}

// Config strings may spell line endings as \r and \n (YAML single quotes keep them literal).
export function unescapeSend(text: string): string {
  return text.replace(/\\r/g, '\r').replace(/\\n/g, '\n');
}
