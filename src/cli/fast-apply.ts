import { formatDiagnostic } from '../common/diagnostic.js';
import { noopMiss, readNoopRecord } from '../ops/noop.js';
import { lightExecutor } from '../system/light-executor.js';
import { DEFAULT_CONFIG_PATH, resolveHost } from '../system/host.js';
import { EXIT } from './exit-codes.js';

// `nftlb apply` when its no-op record proves there is nothing to do (src/ops/noop.ts), before the rest of nftlb is
// loaded: the command then takes the time of node's start, a few stat(2) calls and one netlink request, whatever the
// size of the config. Only the plain form (-c/--config, --wait, --lock-file, --json) is answered here; every other option, and
// every miss, goes to the full command. A miss is { miss: config } (the full command need not ask the record again before it reads
// the config: it asks only under the lock), a form not answered here null.
export async function fastApply(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number | { miss: string } | null> {
  let config = DEFAULT_CONFIG_PATH;
  let lockFile: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') {
      json = true;
      continue;
    }
    const eq = a.indexOf('=');
    const [name, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = inline ?? args[++i];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('-'))) return null;
    if (name === '-c' || name === '--config') config = value;
    else if (name === '--lock-file') lockFile = value;
    else if (name === '--wait') {
      if (!/^[0-9]+$/.test(value) || Number(value) > 3600) return null;
    } else return null;
  }
  const host = resolveHost(lightExecutor(env), env, { lockFile });
  try {
    const r = await readNoopRecord(host, config);
    if (r === null || (await noopMiss(host, config, r, { settle: true })) !== null) return { miss: config };
    for (const d of r.warnings) process.stderr.write(`${formatDiagnostic(config, d)}\n`);
    // The envelope the full command prints for an unchanged table (src/cli/apply.ts), key for key.
    if (json)
      process.stdout.write(
        `${JSON.stringify(
          {
            command: 'apply',
            result: 'unchanged',
            exitCode: EXIT.unchanged,
            error: null,
            table: r.table,
            tables: r.tables,
            deleted: [],
            fingerprint: r.fingerprint,
            previousFingerprint: r.fingerprint,
            services: r.services,
            warnings: r.warnings,
          },
          null,
          2,
        )}\n`,
      );
    return EXIT.unchanged;
  } catch {
    return null;
  }
}
