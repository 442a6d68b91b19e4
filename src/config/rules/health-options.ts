import type { Diagnostic } from '../../common/diagnostic.js';
import type { RawService } from '../schema.js';
import { error, warning, type Rule } from './rule.js';

type RawHealth = NonNullable<RawService['health']>;

// Keys that only mean something for some check types: set on another type they are ignored, which is worth a warning.
const ONLY_FOR: Record<string, readonly RawHealth['type'][]> = {
  send: ['tcp', 'banner'],
  expect: ['banner'],
  method: ['http'],
  path: ['http'],
  host: ['http'],
  status: ['http'],
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
  if (h.type === 'exec' && h.command === undefined)
    out.push(error(path, 'health.command', 'an exec check needs command: "program args..."'));
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
            'the service has several ports and this backend none: give the backend a port or its health check a port',
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
