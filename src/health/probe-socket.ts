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
export function socketProbe(
  target: ProbeTarget,
  timeoutMs: number,
  talk: Conversation,
  secure?: TlsOptions,
): Promise<ProbeResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let reply = '';
    const host = target.address.text;
    const port = target.port ?? 0;
    const sock =
      secure === undefined
        ? net.connect({ host, port })
        : tls.connect({
            host,
            port,
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
      sock.destroy();
      resolve({ ok, reason, ms: Date.now() - started });
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
