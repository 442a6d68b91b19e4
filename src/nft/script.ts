import { createHash, type Hash } from 'node:crypto';
import type { Plan } from '../plan/types.js';
import { VERSION } from '../common/version.js';
import type { TableRef } from './ast.js';
import { scriptTableRefs, tableViews } from './tables.js';
import { renderCommand, renderCommands, type Command } from './commands.js';
import { ident } from './names.js';
import type { TableView } from './ast.js';
import {
  renderChain,
  renderTableBodyChunks,
  renderTableClose,
  renderTableOpen,
  tableBodyChunks,
  type BodySink,
} from './render.js';

// A rendered script and the fingerprint of its tables, which each table carries in its comment. The script is kept as
// the pieces it was rendered in (head, body chunks, tail): `nftlb render` writes them one by one, and `text` joins them
// only for a caller that needs one string (megabytes at scale, docs/architecture.md).
export class NftScript {
  private joined: string | undefined;

  constructor(
    /** The script in order; their concatenation is `text`. */
    readonly pieces: readonly string[],
    /** sha256 (hex, first 32 chars) of the table bodies; `nftlb apply` compares it with the live tables' comments. */
    readonly fingerprint: string,
    /** The tables the script replaces (nftlb's own: the inet table first). */
    readonly tables: readonly TableRef[],
  ) {}

  /** The whole script as one string (joined on first use). */
  get text(): string {
    return (this.joined ??= this.pieces.join(''));
  }
}

/** Prefix of the table comment; what follows is the fingerprint. */
const FINGERPRINT_PREFIX = 'nftlb fingerprint ';

// The comment of a table (and of its fingerprint chain) that carries this fingerprint.
const fingerprintComment = (fingerprint: string): string => `${FINGERPRINT_PREFIX}${fingerprint}`;
const FINGERPRINT_COMMENT = new RegExp(`^\\s*comment "${FINGERPRINT_PREFIX}([0-9a-f]+)"\\s*$`, 'm');

/** Every table nftlb loads carries its fingerprint in the comment of this chain too (the last of the table): a table
 *  replaced in place (see InPlace) keeps its old table comment (the kernel keeps an existing table's comment when the
 *  table is declared again), and `nft list chains` shows chain comments but not table comments. */
export const FINGERPRINT_CHAIN = ident('fingerprint');
const FINGERPRINT_CHAIN_COMMENT = new RegExp(
  `^\\s*chain ${FINGERPRINT_CHAIN} \\{\\s*\\n\\s*comment "${FINGERPRINT_PREFIX}([0-9a-f]+)"\\s*$`,
  'm',
);

// The fingerprint a table listing (`nft list table`, text) carries: in its fingerprint chain when it was last replaced
// in place, else in the table comment; null for a table nftlb did not make.
export function fingerprintOfListing(listing: string): string | null {
  return FINGERPRINT_CHAIN_COMMENT.exec(listing)?.[1] ?? FINGERPRINT_COMMENT.exec(listing)?.[1] ?? null;
}

/** How one table of the script replaces the live one without being deleted (src/nft/in-place.ts): `preamble` empties
 *  it (flush of every rule and of the sets declared alike, delete of the rest), then the table block declares everything
 *  again (an existing set is kept, a persistence entry map with its elements) and a chain carries the fingerprint. */
export interface InPlace {
  readonly table: TableRef;
  readonly preamble: readonly Command[];
  /** Persistence entry maps are kept with their entries. */
  readonly entries: boolean;
}

// Renders the complete script: for each of nftlb's tables, create-then-delete makes the delete safe when the table does
// not exist yet, and the new table follows in the same file, so `nft -f` swaps every table in one transaction and
// touches no other. Each table carries the one fingerprint of all of them.
export function renderNftScript(p: Plan, inPlace?: InPlace): NftScript {
  const s = streamNftScript(p, inPlace);
  const pieces: string[] = [];
  for (;;) {
    const next = s.pieces.next();
    if (next.done === true) return new NftScript(pieces, next.value, s.tables);
    pieces.push(next.value);
  }
}

/** A script rendered as it is read: `pieces` yields it in order and returns the fingerprint once done. */
export interface StreamedScript {
  readonly tables: readonly TableRef[];
  readonly pieces: Generator<string, string, undefined>;
}

// The script of renderNftScript, piece by piece as it is rendered, so apply can write it to nft while it renders the
// rest. The fingerprint hashes every table's body, and each table states it at its end (its comment, and the
// fingerprint chain): the first table's body is streamed, the others (the DSR netdev table) are rendered before the
// first table closes.
// The tables are named without building them (scriptTableRefs), and built only when the first piece is asked for: a
// caller that only wants `tables` pays nothing, and apply starts nft before the work of rendering begins.
// With a sink, the inet table's objects go to it as they are rendered (the image apply keeps, src/nft/image.ts).
export function streamNftScript(p: Plan, inPlace?: InPlace, sink?: BodySink): StreamedScript {
  const refs = scriptTableRefs(p);
  return { tables: refs, pieces: scriptPieces(p, refs, inPlace, sink) };
}

function* scriptPieces(
  p: Plan,
  refs: readonly TableRef[],
  inPlace: InPlace | undefined,
  sink: BodySink | undefined,
): Generator<string, string, undefined> {
  const names = refs.map((t) => `table ${t.family} ${t.name}`);
  yield [
    '#!/usr/sbin/nft -f',
    `# Generated by nftlb ${VERSION}. Do not edit: change the config and run nftlb apply.`,
    `# Replaces ${names.join(' and ')} (only ${names.length === 1 ? 'that table' : 'those tables'}) in one transaction.`,
    '',
  ].join('\n');
  const probes: readonly TableView[] = tableViews(p, '');
  const hash = createHash('sha256');
  const rest: string[][] = [];
  let fingerprint = '';
  for (let i = 0; i < probes.length; i++) {
    const ref = refs[i]!;
    const kept = inPlace !== undefined && inPlace.table.family === ref.family && inPlace.table.name === ref.name;
    yield kept ? `${renderCommands(inPlace.preamble)}${renderTableOpen(ref)}` : replacedTableHead(ref);
    if (i === 0) {
      for (const chunk of tableBodyChunks(probes[0]!, sink)) {
        hash.update(chunk);
        yield chunk;
      }
      for (let j = 1; j < probes.length; j++) {
        rest[j] = renderTableBodyChunks(probes[j]!);
        for (const chunk of rest[j]!) hash.update(chunk);
      }
      fingerprint = fingerprintOf(hash);
    } else yield* rest[i]!;
    yield tableEnd(fingerprint);
  }
  return fingerprint;
}

// The fingerprint of the tables' bodies, hashed in script order.
export function fingerprintOf(bodies: Hash): string {
  return bodies.digest('hex').slice(0, 32);
}

// How the script opens a table it replaces whole: create-then-delete (which never fails for a missing table), then the
// table block.
export function replacedTableHead(ref: TableRef): string {
  return `${renderCommand({ kind: 'table', verb: 'destroy', table: ref })}\n${renderTableOpen(ref)}`;
}

// How every table block of a script (or of apply's delta) ends: the fingerprint chain, outside the hashed body (the
// cheap listing before a load reads it there, src/nft/owned-listing.ts, and a table emptied in place keeps its old
// table comment), then the table comment and the closing brace.
export function tableEnd(fingerprint: string): string {
  const comment = fingerprintComment(fingerprint);
  return `\n\n${renderChain({ name: FINGERPRINT_CHAIN, comment, rules: [] })}${renderTableClose(comment)}`;
}
