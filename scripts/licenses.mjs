// The licence notices of what the bundle contains: nftlb's own LICENSE and, for every npm package esbuild put into
// dist/nftlb.mjs (its metafile's inputs), the package's name, version, licence and licence file as the package ships
// them. Written as a machine-readable Debian copyright file (DEP-5), installed as /usr/share/doc/nftlb/copyright.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Licences whose full text Debian ships in /usr/share/common-licenses: referred to there, as Debian policy asks.
const COMMON = new Map([
  ['Apache-2.0', 'Apache-2.0'],
  ['GPL-2.0', 'GPL-2'],
  ['GPL-3.0', 'GPL-3'],
  ['LGPL-2.1', 'LGPL-2.1'],
  ['MPL-2.0', 'MPL-2.0'],
]);

function licenseFile(dir) {
  const names = readdirSync(dir).filter((f) => /^(licen[cs]e|copying)(\.(md|txt|markdown))?$/i.test(f));
  if (names.length === 0) throw new Error(`${dir}: no LICENSE file; its notice cannot be shipped`);
  return join(dir, names.sort()[0]);
}

// The copyright holders a licence text names ("Copyright (c) 2015 A B"), else the package's author.
function copyrightLines(text, pkg) {
  // A notice has (c), © or a year: "copyright license to reproduce" in the Apache licence's text is not one.
  const found = text
    .split('\n')
    .filter((l) => /\(c\)|©|\b(19|20)\d\d\b/i.test(l))
    .map((l) => /^\s*copyright\s+(?:\(c\)\s*|©\s*)?(.*\S)\s*$/i.exec(l)?.[1])
    .filter((l) => l !== undefined && !/\[yyyy\]/.test(l));
  if (found.length > 0) return [...new Set(found)];
  const a = pkg.author;
  const author = typeof a === 'string' ? a : a?.name ? `${a.name}${a.email ? ` <${a.email}>` : ''}` : null;
  if (author === null) throw new Error(`${pkg.name}: neither its licence nor package.json names a copyright holder`);
  return [author];
}

// The npm packages in the bundle, from esbuild's metafile: one entry per package directory (a nested copy of another
// version counts apart), sorted by path.
export function bundledPackages(metafile, root) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  return [...dirs].sort().map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    const file = licenseFile(join(root, dir));
    const text = readFileSync(file, 'utf8');
    const license = typeof pkg.license === 'string' ? pkg.license : pkg.license?.type;
    if (!license) throw new Error(`${dir}: package.json has no license`);
    return { dir, name: pkg.name, version: pkg.version, license, text, copyright: copyrightLines(text, pkg) };
  });
}

// A DEP-5 field value: continuation lines start with a space, and an empty line is a lone ".".
const folded = (text) =>
  text
    .replace(/\r\n/g, '\n')
    .replace(/\t/g, '    ')
    .trim()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');

function licenseField(license, text) {
  const common = COMMON.get(license);
  if (common !== undefined)
    return `License: ${license}\n On Debian systems, the full text of this licence is in\n /usr/share/common-licenses/${common}.`;
  return `License: ${license}\n${folded(text)}`;
}

// /usr/share/doc/nftlb/copyright: nftlb's own licence, then one paragraph per bundled package with its licence text.
export function debianCopyright({ ownLicense, packages, installedAs }) {
  const own = ownLicense.replace(/\r\n/g, '\n');
  const holders = copyrightLines(own, { name: 'nftlb' });
  const paragraphs = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: nftlb',
      `Comment: ${installedAs} (the command and the chunks it imports) are built with esbuild from`,
      ` nftlb's sources and the ${packages.length} npm packages listed below; each paragraph gives the licence text`,
      ' the package ships.',
    ].join('\n'),
    ['Files: *', `Copyright: ${holders.join('\n ')}`, licenseField('MIT', own)].join('\n'),
    ...packages.map((p) =>
      [
        `Files: ${p.dir}/*`,
        `Copyright: ${p.copyright.join('\n ')}`,
        licenseField(p.license, p.text),
        `Comment: npm package ${p.name} ${p.version}, bundled into ${installedAs}.`,
      ].join('\n'),
    ),
  ];
  return `${paragraphs.join('\n\n')}\n`;
}
