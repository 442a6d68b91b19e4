import type { Executor } from '../apply/executor.js';
import { nftFailed } from '../apply/nft.js';

// The kernel handle of table inet <table>, or null when it does not exist. `nft -j list tables` lists no chains or
// elements, so this stays cheap at any table size; a table replaced by anyone else gets a new handle.
export async function tableHandle(exec: Executor, nft: string, table: string): Promise<number | null> {
  const r = await exec.run(nft, ['-j', 'list', 'tables']);
  if (r.exitCode !== 0) throw nftFailed('nft cannot list tables', r);
  const doc = JSON.parse(r.stdout) as { nftables?: { table?: { family?: string; name?: string; handle?: number } }[] };
  const t = (doc.nftables ?? []).find((o) => o.table?.family === 'inet' && o.table.name === table);
  return t?.table?.handle ?? null;
}
