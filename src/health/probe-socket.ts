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
export function socketProbe(target: ProbeTarget, timeoutMs: number, talk: Conversation): Promise<ProbeResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let reply = '';
    const sock = net.connect({ host: target.address.text, port: target.port ?? 0 });
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

// The first line of a reply, without its line ending, for reasons and prefix checks.
export function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '').slice(0, 120);
}

// Config strings may spell line endings as \r and \n (YAML single quotes keep them literal).
export function unescapeSend(text: string): string {
  return text.replace(/\\r/g, '\r').replace(/\\n/g, '\n');
}
