import type { TableRef } from '../nft/ast.js';
import { listArgs } from '../nft/commands.js';
import { NftlbError } from '../common/errors.js';
import type { ExecResult, LineStream } from './executor.js';
import type { Host } from './host.js';
import { nftFailed } from './nft.js';

// What `nftlb trace` asks of nft: a listing with handles, a script loaded with its echo, and `nft monitor`.

// A table listing without elements, with handles (`nft -t -a list table`); null when the table does not exist.
export async function listWithHandles(host: Host, table: TableRef): Promise<string | null> {
  const r = await host.exec.run(host.nft, listArgs({ table, terse: true, handles: true }));
  if (r.exitCode === 0) return r.stdout;
  if (/No such file or directory/.test(r.stderr)) return null;
  throw nftFailed(`nft cannot list table ${table.family} ${table.name}`, r);
}

// `nft -e -a -f -`: loads a script in one transaction and echoes each command with the handle it got.
export function loadWithEcho(host: Host, script: string): Promise<ExecResult> {
  return host.exec.run(host.nft, ['-e', '-a', '-f', '-'], script);
}

// `nft monitor` (ruleset events and traces), each line handed to onLine. It reports ruleset changes too, which is how
// the caller knows it listens (a probe change shows up), and which also ends it should nftlb be killed: its next
// line then goes to a closed pipe.
export async function startMonitor(host: Host, onLine: (line: string) => void): Promise<LineStream> {
  if (host.exec.stream === undefined) throw new NftlbError('internal', 'the executor cannot follow a program');
  return host.exec.stream(host.nft, ['monitor'], (line, from) => {
    if (from === 'stdout') onLine(line);
  });
}
