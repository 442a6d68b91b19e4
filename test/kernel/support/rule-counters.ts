// The counters of a live table read both ways: perl's netlink dump of its rules (src/system/rule-counters.ts, what
// `nftlb status` reads) and nft's own JSON listing, which must say the same for every chain.
import type { ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveFiguresOfJson } from '../../../src/ops/status.js';
import { NFPROTO } from '../../../src/system/netlink-dump.js';
import { parseRuleCounters, RULE_COUNTERS_PROGRAM, type ChainCounts } from '../../../src/system/rule-counters.js';
import type { ExecResult } from './topology.js';

// Asserts the dump and the listing agree on `family table` in namespace `ns`; returns the counters by chain. Traffic
// still arriving could move a counter between the two reads: the listing is compared with a dump only when the dumps
// taken just before and just after it are equal (asked again, 5 times at most).
export async function countersAgree(
  t: ExecutionContext,
  exec: (ns: string, cmd: string[]) => Promise<ExecResult>,
  ns: string,
  family: 'inet' | 'netdev',
  table: string,
): Promise<ReadonlyMap<string, ChainCounts>> {
  const sorted = (m: ReadonlyMap<string, ChainCounts>): [string, ChainCounts][] =>
    [...m].sort(([a], [b]) => a.localeCompare(b));
  const dump = async (): Promise<[string, ChainCounts][]> => {
    const r = await exec(ns, ['perl', '-e', RULE_COUNTERS_PROGRAM, String(NFPROTO[family]), table]);
    // The namespace runner strips the final line feed the program prints.
    const m = r.exitCode === 0 ? parseRuleCounters(`${r.stdout}\n`) : null;
    if (m === null)
      throw new Error(`the rule dump of ${family} ${table} failed: exit ${r.exitCode} ${r.stdout.slice(-200)}`);
    return sorted(m);
  };
  for (let i = 0; i < 5; i++) {
    const before = await dump();
    const list = await exec(ns, ['nft', '-j', 'list', 'table', family, table]);
    const listed = sorted(liveFiguresOfJson((JSON.parse(list.stdout) as { nftables: unknown[] }).nftables).counters);
    const after = await dump();
    if (JSON.stringify(before) !== JSON.stringify(after)) continue;
    t.deepEqual(before, listed, `the rule dump and nft -j list agree on ${family} ${table}`);
    t.true(before.length > 0, 'some chain has a counter');
    return new Map(before);
  }
  t.fail(`the counters of ${family} ${table} kept moving`);
  return new Map();
}

// nft through a wrapper in `dir` that logs its arguments (for NFTLB_NFT): `listedJson()` says whether nft was asked for
// a JSON listing since `reset()` (status must not be, while its netlink dumps work).
export function loggedNft(dir: string): { path: string; reset(): void; listedJson(): boolean; log(): string } {
  const log = join(dir, 'nft.log');
  const path = join(dir, 'nft-logged');
  writeFileSync(path, `#!/bin/sh\necho "$*" >> ${log}\nexec nft "$@"\n`, { mode: 0o755 });
  writeFileSync(log, '');
  const text = (): string => readFileSync(log, 'utf8');
  return {
    path,
    reset: () => writeFileSync(log, ''),
    listedJson: () => /(^| )-j( |$)/m.test(text()),
    log: text,
  };
}
