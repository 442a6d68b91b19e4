import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { hasErrors, type Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { normalize } from './normalize.js';
import type { Model } from '../model/types.js';
import { parseConfigText, type LoadedDocument } from './parse.js';
import { rules } from './rules/index.js';
import { schemaCheck } from './schema-check.js';
import { MAX_CONFIG_BYTES, MAX_PROBLEMS } from './limits.js';

// The outcome of checking a config: the model when there are no errors, and every diagnostic (placed on lines).
export interface Checked {
  readonly doc: LoadedDocument;
  readonly model: Model | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** True when checking stopped at MAX_PROBLEMS problems: there may be more than these. */
  readonly stopped: boolean;
}

/** Code of the last diagnostic when checking stopped at MAX_PROBLEMS problems (there may be more). */
export const STOPPED_CODE = 'check.stopped';

/** Where nftlb looks for its config when -c is not given. */
export const DEFAULT_CONFIG_PATH = '/etc/nftlb/nftlb.yaml';

// Reads a config file; an unreadable file is an error of its own (exit code differs from an invalid config). Only a
// regular file of at most MAX_CONFIG_BYTES is read: a FIFO, a device (/dev/zero, /dev/urandom) or a directory is refused
// at once (opened non-blocking, so a FIFO without a writer does not hang), and a file that grows while it is read is
// still read only up to the limit.
export async function readConfigFile(file: string): Promise<string> {
  let fh: FileHandle;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    throw unreadable(file, (cause as NodeJS.ErrnoException).code ?? String(cause), cause);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw unreadable(file, `not a regular file (${fileKind(st)}); give the path of a YAML or JSON file`);
    if (st.size > MAX_CONFIG_BYTES) throw tooLarge(file, st.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // st.size + 1: one read past the end finds EOF; /proc files say size 0 and are read 64 KiB at a time.
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size - total + 1, 1 << 16), 1 << 20));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_CONFIG_BYTES) throw tooLarge(file, undefined);
      chunks.push(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } catch (cause) {
    if (cause instanceof NftlbError) throw cause;
    throw unreadable(file, (cause as NodeJS.ErrnoException).code ?? String(cause), cause);
  } finally {
    await fh.close();
  }
}

function unreadable(file: string, why: string, cause?: unknown): NftlbError {
  return new NftlbError('config-read', `cannot read config ${file}: ${why}`, { cause });
}

// A file over MAX_CONFIG_BYTES: its size when stat told it, or that it grew past the limit while it was read.
function tooLarge(file: string, size: number | undefined): NftlbError {
  const limit = `${MAX_CONFIG_BYTES} bytes (${MAX_CONFIG_BYTES / 1048576} MiB)`;
  return unreadable(
    file,
    size === undefined
      ? `it grew past ${limit} while it was read`
      : `it is ${size} bytes; a config may be at most ${limit}`,
  );
}

// What a path that is not a regular file is, in the words of ls and file(1).
function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

// parse -> schema -> normalize -> semantic rules, collecting every problem rather than stopping at the first. When the
// schema check finds problems, the semantic rules still run on the services whose shape is valid (and with unknown
// keys set aside), so one run reports the problems of both kinds.
export function checkConfig(file: string, text: string): Checked {
  const doc = parseConfigText(file, text);
  if (doc.value === undefined) return { doc, model: undefined, diagnostics: doc.diagnostics, stopped: false };
  const schema = schemaCheck(doc.value);
  const found: Diagnostic[] = [...schema.diagnostics];
  const target = schema.config !== undefined ? { config: schema.config, indices: undefined } : schema.partial;
  let model: Model | undefined;
  if (target !== undefined) {
    const n = normalize(target.config, target.indices);
    for (const d of n.diagnostics) found.push(d);
    for (const r of rules) for (const d of r({ raw: target.config, model: n.model })) found.push(d);
    if (schema.config !== undefined) model = n.model;
  }
  const diagnostics = place(doc, found);
  if (schema.stopped)
    diagnostics.push({
      path: '',
      line: diagnostics[diagnostics.length - 1]?.line ?? 1,
      code: STOPPED_CODE,
      message: `checking stopped after ${MAX_PROBLEMS} problems; fix these and check again`,
      severity: 'error',
    });
  return { doc, model: hasErrors(diagnostics) ? undefined : model, diagnostics, stopped: schema.stopped };
}

// Puts each diagnostic on its line (all looked up in one pass over the text) and sorts them by line, so the report
// reads top to bottom like the file (the sort is stable).
function place(doc: LoadedDocument, ds: readonly Diagnostic[]): Diagnostic[] {
  const unplaced = ds.filter((d) => d.line === undefined);
  const lines = unplaced.length === 0 ? [] : doc.locate(unplaced.map((d) => d.path));
  let k = 0;
  return ds
    .map((d) => (d.line === undefined ? { ...d, line: lines[k++] ?? 1 } : d))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

// Reads and checks a config, throwing config-invalid (with all diagnostics) unless it is usable.
export async function loadModel(file: string): Promise<{ model: Model; warnings: readonly Diagnostic[] }> {
  const checked = checkConfig(file, await readConfigFile(file));
  if (checked.model === undefined) {
    throw new NftlbError('config-invalid', `${file}: invalid config`, { diagnostics: checked.diagnostics });
  }
  return { model: checked.model, warnings: checked.diagnostics };
}
