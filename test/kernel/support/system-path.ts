// PATH for every command the harness runs. `npx`/`npm test` put node_modules/.bin first, and
// node_modules/.bin/nft is @vercel/nft (Node file tracer, pulled in by ava): it exits 0 on
// `nft -f -` and silently loads nothing. So node_modules entries are dropped and sbin comes first.
import * as path from 'node:path';

const STANDARD = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function systemPath(): string {
  const inherited = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => p && !p.split(path.sep).includes('node_modules'));
  return [...new Set([...STANDARD, ...inherited])].join(path.delimiter);
}

// Environment overrides for execa: system binaries (ip, nft, conntrack, sysctl) win over npm shims.
export const SYSTEM_ENV: Readonly<Record<string, string>> = { PATH: systemPath() };
