import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

// What a socket check does once connected: nothing (tcp), or send text and read until `done` says the reply is complete.
export interface Conversation {
  readonly send: string | undefined;
  /** Returns a verdict once enough of the reply has arrived, or undefined to keep reading. */
  readonly judge: ((reply: string, ended: boolean) => { ok: boolean; reason: string } | undefined) | undefined;
}

const MAX_REPLY = 16384;

// Connects to the target and runs the conversation; every outcome (refused, reset, timeout, wrong reply) is a result,
// never an exception. The socket is destroyed in all cases, so no probe outlives its timeout.
export async function socketProbe(target: ProbeTarget, timeoutMs: number, talk: Conversation): Promise<ProbeResult> {
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
    // A VIP-path probe: to the VIP from the balancer's address towards the backend and the backend's own source port.
    const sock =
      via === undefined
        ? net.connect({ host: target.address.text, port: target.port ?? 0 })
        : net.connect({ host: via.vip.text, port: via.port, localAddress: from, localPort: via.sourcePort });
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
    sock.once('connect', () => {
      if (talk.send !== undefined) sock.write(talk.send);
      if (talk.judge === undefined) finish(true, 'connected');
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
    sock.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
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

// The first line of a reply, without its line ending, for reasons and prefix checks.
export function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '').slice(0, 120);
}

// Config strings may spell line endings as \r and \n (YAML single quotes keep them literal).
export function unescapeSend(text: string): string {
  return text.replace(/\\r/g, '\r').replace(/\\n/g, '\n');
}
