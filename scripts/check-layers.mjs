#!/usr/bin/env node
// Checks nftlb's layering (docs/architecture.md): a folder of src/ imports only folders below it, and no file outside
// src/nft writes nft command text. Prints each violation as file:line and exits 1 when there is one; `make lint` runs
// it. Usage: node scripts/check-layers.mjs [SRC_DIR]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The layers, bottom first. Each folder may import itself and the folders before it, never one after it. */
export const LAYERS = [
  'common',
  'model',
  'plan',
  'nft',
  'iptables',
  'config',
  'system',
  'cluster',
  'health',
  'ops',
  'cli',
];

/** nft command text: a verb and an object as a script or argv would start them. Only src/nft may write these. */
const NFT_COMMAND =
  /^\s*(add|create|insert|replace|flush|delete|destroy|list|reset) (table|chain|set|map|element|rule|ruleset|counter|quota)\b/;
const NFT_TABLE_BLOCK = /^\s*table (inet|ip|ip6|netdev|arp|bridge) \S+ \{/;

/** Modules that touch the host: only src/system may import them (health's probes may open sockets: the check is the
 *  point of that code). */
const HOST_MODULES = {
  'node:fs': ['system'],
  'node:fs/promises': ['system'],
  'node:child_process': ['system'],
  execa: ['system'],
  'node:net': ['system', 'health'],
  'node:dgram': ['system', 'health'],
  'node:tls': ['system', 'health'],
  'node:http': ['system', 'health'],
  'node:https': ['system', 'health'],
};

const IMPORT = /(?:^|[^\w.])(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
// String literals and templates; a template's ${...} (not nested) reads as a placeholder word.
const STRING = /'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`/g;

function files(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const lineOf = (text, index) => text.slice(0, index).split('\n').length;
const layerOf = (src, file) => relative(src, file).split(sep)[0];

// Every violation under `src` as `file:line: message`.
export function checkLayers(src) {
  const out = [];
  for (const file of files(src)) {
    const text = readFileSync(file, 'utf8');
    const from = layerOf(src, file);
    const rank = LAYERS.indexOf(from);
    const where = (i) => `${relative(process.cwd(), file)}:${lineOf(text, i)}`;
    if (rank < 0) {
      out.push(
        `${where(0)}: ${from} is not a layer (add it to LAYERS in scripts/check-layers.mjs and docs/architecture.md)`,
      );
      continue;
    }
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      const hostOnly = HOST_MODULES[spec];
      if (hostOnly !== undefined && !hostOnly.includes(from))
        out.push(
          `${where(m.index + m[0].indexOf(spec))}: ${from} imports ${spec}; only ${hostOnly.join(' and ')} may touch the host`,
        );
      if (!spec.startsWith('.')) continue;
      const to = layerOf(src, resolve(dirname(file), spec));
      const toRank = LAYERS.indexOf(to);
      const at = m.index + m[0].indexOf(spec);
      if (toRank > rank) out.push(`${where(at)}: ${from} imports ${spec}, from the ${to} layer above it`);
      else if (toRank < 0 && !to.startsWith('..'))
        out.push(`${where(at)}: ${from} imports ${spec}, which is in no layer`);
    }
    if (from === 'nft') continue;
    for (const m of text.matchAll(STRING)) {
      const s = (m[1] ?? m[2] ?? m[3] ?? '').replace(/\$\{[^}]*\}/g, 'X');
      for (const line of s.split(/\\n|\n/))
        if (NFT_COMMAND.test(line) || NFT_TABLE_BLOCK.test(line))
          out.push(`${where(m.index)}: nft command text outside src/nft: ${JSON.stringify(line.trim().slice(0, 60))}`);
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const src = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const problems = checkLayers(src);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} violation(s) of the layering in docs/architecture.md`);
    process.exit(1);
  }
  console.log(`check-layers: ${LAYERS.join(' < ')}: ok`);
}
