import { join } from 'node:path';
import { VERSION } from '../common/version.js';
import { parseImage, type TableImage } from '../nft/image.js';
import { stageFile, writeFileAtomic } from '../system/atomic-write.js';
import { readStateFile } from '../system/files.js';

// The image of the table apply loaded last (src/nft/image.ts), with the ruleset generation right after that load, in the
// run directory next to the other records (/run is emptied at boot, as the ruleset). The next apply sends a delta from
// it only while the image is proven to be the live table: written only when the load was the only transaction (the
// generation after it is the one before plus one), used only while the generation is still that one (no transaction
// since, on any table: not health's updates, not a hand edit, not another nftlb, so nftlb's tables are exactly what
// that load left), and made by this nftlb version. Anything else, or a file that cannot be read, is no image: apply
// loads in full, as before.

/** An image (as imageText made it) with the generation it was current at. */
export interface RecordedImage {
  readonly generation: number;
  readonly text: string;
}

/** An image file as read back: its generation, and the image, parsed when first asked for (null: not an image of this
 *  table). Reading the text is cheap; parsing it (~10 ms at 10k services) is left to a caller that will use it. */
export interface ReadImage {
  readonly generation: number;
  image(): TableImage | null;
}

// The image file of a table.
export function applyImageFile(runDir: string, table: string): string {
  return join(runDir, `${table}.image.json`);
}

// Writes the image of a load that was the only transaction up to `generation`, or, with null, empties the file (a load
// that was not proven so must not leave the image of the one before). Atomic; the caller treats a failure as a miss.
export async function writeApplyImage(runDir: string, table: string, r: RecordedImage | null): Promise<void> {
  const text = r === null ? 'null\n' : `${imageHead(r.generation)}\n${r.text}\n`;
  await writeFileAtomic(applyImageFile(runDir, table), text);
}

// The first line of an image file: nftlb's version and the generation, padded with spaces (which JSON allows) to a
// fixed width, so that a staged image gets it written over its placeholder once the generation is known.
const HEAD_WIDTH = 120;
function imageHead(generation: number): string {
  return JSON.stringify({ nftlb: VERSION, generation }).padEnd(HEAD_WIDTH);
}

/** An image written while nft commits the load it describes: put in place with the generation after that load once it
 *  is proven the only transaction, or dropped. */
export interface StagedImage {
  commit(generation: number): Promise<void>;
  abort(): Promise<void>;
}

// writeApplyImage of an image whose generation is not known yet (src/system/atomic-write.ts, stageFile): the text now,
// the first line (a placeholder of spaces until then, which no reader takes for an image) at commit.
export async function stageApplyImage(runDir: string, table: string, text: string): Promise<StagedImage> {
  const staged = await stageFile(applyImageFile(runDir, table), `${' '.repeat(HEAD_WIDTH)}\n${text}\n`);
  return {
    commit: async (generation) => {
      const head = imageHead(generation);
      if (head.length !== HEAD_WIDTH) {
        await staged.abort();
        await writeApplyImage(runDir, table, { generation, text });
      } else await staged.commit(head);
    },
    abort: () => staged.abort(),
  };
}

// The recorded image of a table, or null (none, unreadable, of another nftlb version, not an image file).
export async function readApplyImage(runDir: string, table: string): Promise<ReadImage | null> {
  try {
    const text = await readStateFile(applyImageFile(runDir, table), 'the image of the last apply');
    if (text === null) return null;
    const nl = text.indexOf('\n');
    if (nl < 0) return null;
    const head = JSON.parse(text.slice(0, nl)) as { nftlb?: unknown; generation?: unknown } | null;
    if (head === null || head.nftlb !== VERSION || typeof head.generation !== 'number') return null;
    let parsed: TableImage | null | undefined;
    return {
      generation: head.generation,
      image: () => {
        if (parsed === undefined) {
          const i = parseImage(text.slice(nl + 1));
          parsed = i === null || i.table.name !== table ? null : i;
        }
        return parsed;
      },
    };
  } catch {
    return null;
  }
}
