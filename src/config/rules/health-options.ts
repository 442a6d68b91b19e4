import type { Diagnostic } from '../../common/diagnostic.js';
import { parseAddress } from '../../model/address.js';
import type { RawService } from '../schema.js';
import { error, warning, type Rule } from './rule.js';

type RawHealth = NonNullable<RawService['health']>;

// Keys that only mean something for some check types: set on another type they are ignored, which is worth a warning.
const ONLY_FOR: Record<string, readonly RawHealth['type'][]> = {
  send: ['tcp', 'banner'],
  expect: ['banner'],
  method: ['http', 'https'],
  path: ['http', 'https'],
  host: ['http', 'https'],
  status: ['http', 'https'],
  sni: ['https'],
  ca: ['https'],
  'no-verify': ['https'],
  command: ['exec'],
};

function checkHealth(h: RawHealth, path: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [key, types] of Object.entries(ONLY_FOR)) {
    if ((h as Record<string, unknown>)[key] !== undefined && !types.includes(h.type)) {
      out.push(
        warning(
          `${path}/${key}`,
          'health.unused-key',
          `${key} is used only by ${types.join('/')} checks; this ${h.type} check ignores it`,
        ),
      );
    }
  }
  if (h.type === 'exec') out.push(...checkCommand(h.command, `${path}/command`, path));
  if (h.type === 'https' && h.sni !== undefined && parseAddress(h.sni) !== undefined)
    out.push(
      error(
        `${path}/sni`,
        'health.sni',
        `expected a DNS name, got the address ${h.sni}: TLS never sends an address as server name (RFC 6066); leave sni out and the certificate is verified against the probed address`,
      ),
    );
  if (h.type === 'https' && h['no-verify'] === true && h.ca !== undefined)
    out.push(warning(`${path}/ca`, 'health.unused-key', 'no-verify: true accepts any certificate; ca is not used'));
  if ((h.timeout ?? 1) > (h.interval ?? 2)) {
    out.push(
      error(
        `${path}/timeout`,
        'health.timeout',
        `timeout (${h.timeout ?? 1} s) must not exceed interval (${h.interval ?? 2} s)`,
      ),
    );
  }
  return out;
}

// exec: a command is needed; its program must not be empty, and no word may hold a NUL (a program's argument cannot).
function checkCommand(command: RawHealth['command'], path: string, checkPath: string): Diagnostic[] {
  if (command === undefined)
    return [
      error(
        checkPath,
        'health.command',
        'an exec check needs command: [program, "argument", ...] or "program args..."',
      ),
    ];
  const words = typeof command === 'string' ? [command] : command;
  const out: Diagnostic[] = [];
  if (typeof command !== 'string' && command[0] === '')
    out.push(error(`${path}/0`, 'health.command', 'expected a program name or path first, got an empty string'));
  if (typeof command === 'string' && command.trim() === '')
    out.push(error(path, 'health.command', 'expected a program name or path, got only spaces'));
  words.forEach((w, i) => {
    if (w.includes('\u0000'))
      out.push(
        error(
          typeof command === 'string' ? path : `${path}/${i}`,
          'health.command',
          'expected text without a NUL character (a program argument cannot hold one)',
        ),
      );
  });
  return out;
}

// Health checks, backup/quorum and limits: keys that contradict each other or cannot be probed. Index loops and no
// closure per service: at 50k services this runs mostly before the JIT has optimized it.
export const healthOptions: Rule = ({ raw, model }) => {
  const out: Diagnostic[] = [];
  for (let i = 0; i < raw.services.length; i++) {
    const rs = raw.services[i]!;
    const s = model.services[i];
    if (s === undefined) continue;
    const path = s.path;
    if (rs.health !== undefined) out.push(...checkHealth(rs.health, `${path}/health`));
    for (let j = 0; j < rs.backends.length; j++) {
      const h = rs.backends[j]!.health;
      if (h !== undefined) out.push(...checkHealth(h, `${path}/backends/${j}/health`));
    }
    const singlePort = s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last;
    for (let j = 0; j < s.backends.length; j++) {
      const b = s.backends[j]!;
      if (
        b.health !== undefined &&
        b.health.kind !== 'exec' &&
        b.health.port === undefined &&
        b.port === undefined &&
        !singlePort
      ) {
        out.push(
          error(
            b.path,
            'health.port',
            // A backend port is no way out: a service with several ports refuses it (backend.port-with-range).
            'the service has several ports, so its health check has none to probe: give the health check a port (health: { port: N }, on the service or on this backend)',
          ),
        );
      }
    }
    if (rs.quorum !== undefined && !s.backends.some((b) => b.state === 'backup'))
      out.push(
        warning(
          `${path}/quorum`,
          'service.quorum-without-backup',
          'quorum has no effect without a backend in state backup',
        ),
      );
    if (rs['limit-overflow'] !== undefined && !s.backends.some((b) => b.maxConnections !== undefined)) {
      out.push(
        warning(
          `${path}/limit-overflow`,
          'service.overflow-without-limit',
          'limit-overflow has no effect without max-connections on a backend',
        ),
      );
    }
  }
  return out;
};
