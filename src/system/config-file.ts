import { webcrypto } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Diagnostic } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import { MAX_CONFIG_BYTES } from '../config/limits.js';
import { decodeConfig, type DecodedConfig } from '../config/decode.js';
import { checkConfig } from '../config/read.js';
import { DEFAULT_TABLE, type Model } from '../model/types.js';

// Reads a config file; an unreadable file is an error of its own (exit code differs from an invalid config). Only a
// regular file of at most MAX_CONFIG_BYTES is read: a FIFO, a device (/dev/zero, /dev/urandom) or a directory is refused
// at once (opened non-blocking, so a FIFO without a writer does not hang), and a file that grows while it is read is
// still read only up to the limit. Its text, or why its bytes are not UTF-8, which the config checker reports (the bytes
// are dropped here: a 22 MB config is not held twice while it is checked).
export async function readConfigFile(file: string): Promise<DecodedConfig> {
  return decodeConfig(await readConfigBytes(file));
}

// The bytes of a config file, read as readConfigFile says.
async function readConfigBytes(file: string): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    // `-c -` where no file is named `-`: the reader meant standard input, which a config is never read from (apply
    // proves a no-op by the file's path and identity, and every command reads the config from a file the same way).
    if (file === '-' && code === 'ENOENT') throw unreadable(file, STDIN_REFUSED, cause);
    throw unreadable(file, code, cause);
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
    return Buffer.concat(chunks, total);
  } catch (cause) {
    if (cause instanceof NftlbError) throw cause;
    throw unreadable(file, (cause as NodeJS.ErrnoException).code ?? String(cause), cause);
  } finally {
    await fh.close();
  }
}

const STDIN_REFUSED =
  'a config is read from a file, not from standard input; write it to a file and give that path (e.g. -c /run/lb.yaml)';

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

// Reads and checks a config, throwing config-invalid (with all diagnostics) unless it is usable. `stage` hears each
// stage as it starts.
export async function loadModel(
  file: string,
  stage: (what: string) => void = () => undefined,
): Promise<{ model: Model; warnings: readonly Diagnostic[] }> {
  stage(`reading ${file}`);
  return checked(file, await readConfigFile(file), stage);
}

// loadModel, and the sha256 of the file's bytes: what apply's no-op record compares (the other commands do not hash 13
// MB of config they do not need a digest of). The digest is made on libuv's thread pool (WebCrypto) while the config is
// checked on this one: 25 ms less before nft starts at 50,000 services.
export async function loadModelAndDigest(
  file: string,
  stage: (what: string) => void = () => undefined,
): Promise<{ model: Model; warnings: readonly Diagnostic[]; sha256: string }> {
  stage(`reading ${file}`);
  const bytes = await readConfigBytes(file);
  const digest = webcrypto.subtle.digest('SHA-256', bytes);
  // A config that is not valid throws before the digest is awaited: its outcome is then nobody's.
  digest.catch(() => undefined);
  const loaded = checked(file, decodeConfig(bytes), stage);
  return { ...loaded, sha256: Buffer.from(await digest).toString('hex') };
}

// The table a config names, for `nftlb remove`, which needs nothing else of it: taken from a config with errors
// elsewhere too (a config broken before `systemctl stop` must not keep its balancer loaded), with those errors in
// `problems`. Throws the config's errors when the name itself cannot be read: the file is no document, or its `table`
// key is wrong.
export async function configTable(
  file: string,
  stage: (what: string) => void = () => undefined,
): Promise<{ table: string; problems: readonly Diagnostic[] }> {
  stage(`reading ${file}`);
  const c = checkConfig(file, await readConfigFile(file), stage);
  if (c.model !== undefined) return { table: c.model.table, problems: [] };
  const raw = c.doc.value;
  const table = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as { table?: unknown }).table : 0;
  const named = table === undefined ? DEFAULT_TABLE : table;
  if (
    typeof named !== 'string' ||
    c.diagnostics.some((d) => d.severity === 'error' && (d.path === '/table' || d.path === ''))
  )
    throw new NftlbError('config-invalid', `${file}: invalid config`, { diagnostics: c.diagnostics });
  return { table: named, problems: c.diagnostics };
}

function checked(
  file: string,
  text: DecodedConfig,
  stage: (what: string) => void,
): { model: Model; warnings: readonly Diagnostic[] } {
  const c = checkConfig(file, text, stage);
  if (c.model === undefined)
    throw new NftlbError('config-invalid', `${file}: invalid config`, { diagnostics: c.diagnostics });
  return { model: c.model, warnings: c.diagnostics };
}
