import type { HealthCheck } from '../model/types.js';
import { execProbe } from './probe-exec.js';
import { firstLine, socketProbe, unescapeSend } from './probe-socket.js';
import type { ProbeResult, ProbeTarget } from './probe-types.js';

// Runs one health check against one backend. Probes are the only part of nftlb besides apply that touches the network.
export function runProbe(
  check: HealthCheck,
  target: ProbeTarget,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProbeResult> {
  const at: ProbeTarget = {
    address: target.address,
    port: check.port ?? target.port,
    ...(target.via !== undefined ? { via: target.via } : {}),
  };
  switch (check.kind) {
    case 'tcp':
      return socketProbe(at, check.timeout, {
        send: check.send === undefined ? undefined : unescapeSend(check.send),
        judge: undefined,
      });
    case 'banner':
      return socketProbe(at, check.timeout, {
        send: check.send === undefined ? undefined : unescapeSend(check.send),
        judge: (reply, ended) => {
          // Decide on the first complete line (or whatever arrived before the peer closed).
          if (!reply.includes('\n') && !ended && reply.length < check.expect.length + 512) return undefined;
          const line = firstLine(reply);
          return line.startsWith(check.expect)
            ? { ok: true, reason: `banner ${JSON.stringify(line)}` }
            : { ok: false, reason: `banner ${JSON.stringify(line)}, expected "${check.expect}..."` };
        },
      });
    case 'http': {
      const host = check.host ?? (at.address.family === 6 ? `[${at.address.text}]` : at.address.text);
      const request = `${check.method} ${check.path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: nftlb-health\r\nConnection: close\r\n\r\n`;
      return socketProbe(at, check.timeout, {
        send: request,
        judge: (reply, ended) => {
          if (!reply.includes('\n') && !ended) return undefined;
          const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(reply);
          if (m === null) return { ok: false, reason: `not an HTTP reply: ${JSON.stringify(firstLine(reply))}` };
          const status = Number(m[1]);
          return check.status.includes(status)
            ? { ok: true, reason: `status ${status}` }
            : { ok: false, reason: `status ${status}, expected ${check.status.join('/')}` };
        },
      });
    }
    case 'exec':
      return execProbe(check.command, at, check.timeout, env);
  }
}
