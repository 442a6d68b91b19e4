import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { holdsEntries, liveObjects, reloadInPlace } from '../../src/nft/in-place.js';
import { entriesOfJson, removeEntries } from '../../src/nft/persistence-entries.js';
import { renderCommands } from '../../src/nft/commands.js';
import { ident } from '../../src/nft/names.js';
import { fingerprintOfListing, renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { FIXTURES } from '../support/fixtures.js';
import { modelOf } from '../support/model.js';

// `nft -t list table inet nftlb` of fixtures/persistence/basic loaded by nft 1.0.6.
const LISTING = readFileSync(join(FIXTURES, 'persistence', 'basic', 'live-terse.txt'), 'utf8');
const CONFIG = readFileSync(join(FIXTURES, 'persistence', 'basic', 'config.yaml'), 'utf8');

test('liveObjects reads the chains and sets of a listing with their declaration lines', (t) => {
  const o = liveObjects(LISTING)!;
  t.is(o.chains.length, 17);
  t.true(o.chains.includes(ident('persist_v6_m64_t30_get')));
  t.deepEqual(
    o.sets.find((s) => s.name === 'persist6'),
    {
      kind: 'map',
      name: ident('persist6'),
      type: 'typeof ct mark . @nh,64,96 : ct mark',
      flags: 'flags dynamic,timeout',
      size: 1000,
    },
  );
  t.deepEqual(
    o.sets.find((s) => s.name === 'nat_masquerade'),
    {
      kind: 'set',
      name: ident('nat_masquerade'),
      type: 'type mark',
      flags: 'flags interval',
    },
  );
  t.true(holdsEntries(LISTING));
  // Anything nftlb does not make (a named counter): not emptied object by object.
  t.is(liveObjects(LISTING.replace('\tchain pick {', '\tcounter hits {\n\t}\n\n\tchain pick {')), null);
});

// The table block of a render, as a listing of the live table reads (declarations first, elements after them).
const listingOf = (text: string): string => text.slice(text.lastIndexOf('\ntable inet ') + 1);

test('reloadInPlace over the table of the same config: every rule and set flushed, the entry maps kept, nothing deleted but the fingerprint chain', (t) => {
  const p = plan(modelOf(CONFIG));
  const live = listingOf(renderNftScript(p).text);
  const inPlace = reloadInPlace(p, live)!;
  t.true(inPlace.entries);
  const text = renderCommands(inPlace.preamble);
  t.true(text.startsWith('flush table inet nftlb\nflush map inet nftlb services4\n'), text);
  t.notRegex(text, /persist(4|6|4_daddr)\n/, 'the entry maps are neither flushed nor deleted');
  t.regex(text, /flush map inet nftlb persist_live\n/);
  t.regex(text, /flush set inet nftlb nat_masquerade\n/);
  t.deepEqual(text.match(/^delete .*$/gm), ['delete chain inet nftlb fingerprint']);
  // The whole script: the preamble, the table block, the fingerprint in a chain comment.
  const script = renderNftScript(p, inPlace);
  t.notRegex(script.text, /^delete table/m);
  t.regex(
    script.text,
    new RegExp(
      `\\tchain fingerprint \\{\\n\\t\\tcomment "nftlb fingerprint ${script.fingerprint}"\\n\\t\\}\\n\\n\\tcomment "nftlb fingerprint ${script.fingerprint}"\\n\\}\\n$`,
    ),
  );
  t.is(script.fingerprint, renderNftScript(p).fingerprint, 'the same body: the same fingerprint');
});

test('reloadInPlace deletes what the new table does not declare alike: sets first, then chains', (t) => {
  const p = plan(modelOf(CONFIG));
  const live = listingOf(renderNftScript(p).text);
  const plain = plan(
    modelOf('services:\n  - { name: p, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n'),
  );
  const inPlain = reloadInPlace(plain, live)!;
  t.false(inPlain.entries, 'the new config has no persistence: its entry maps go');
  const text = renderCommands(inPlain.preamble);
  t.regex(text, /delete map inet nftlb persist4\n/);
  t.regex(text, /delete chain inet nftlb svc_web_v4\n/);
  t.true(text.lastIndexOf('delete map ') < text.indexOf('delete chain '), 'sets before chains');
  t.notRegex(text, /delete chain inet nftlb (dispatch_pre|dispatch_out|pick|nat_post)\n/, 'the base chains stay');
  const otherType = live.replace(/type mark \. ipv4_addr : mark/, 'type mark . ipv4_addr : ipv4_addr');
  t.regex(renderCommands(reloadInPlace(p, otherType)!.preamble), /delete map inet nftlb persist4\n/);
  const otherFlags = live.replace(/(\tmap services4 \{\n\t\ttype [^\n]*\n)/, '$1\t\tflags interval\n');
  t.regex(renderCommands(reloadInPlace(p, otherFlags)!.preamble), /delete map inet nftlb services4\n/);
  // The kernel keeps an existing set's size: a live map smaller than the new one is declared again, a larger one kept.
  const size = /\tmap backends4 \{\n\t\ttype [^\n]*\n\t\tsize ([0-9]+)\n/.exec(live)!;
  const sized = (n: number): string => live.replace(size[0], size[0].replace(`size ${size[1]}`, `size ${n}`));
  t.regex(renderCommands(reloadInPlace(p, sized(Number(size[1]) - 1))!.preamble), /delete map inet nftlb backends4\n/);
  t.regex(renderCommands(reloadInPlace(p, sized(Number(size[1]) + 1))!.preamble), /flush map inet nftlb backends4\n/);
});

test('reloadInPlace over the live listing of an older shape keeps the entry maps and deletes what is gone', (t) => {
  const p = plan(modelOf(CONFIG));
  const text = renderCommands(reloadInPlace(p, LISTING)!.preamble);
  t.notRegex(text, /persist(4|6|4_daddr)\n/, 'the entries stay');
  t.regex(text, /delete map inet nftlb closed4\n/);
  t.regex(text, /delete chain inet nftlb guard_pre\n/);
});

test('fingerprintOfListing reads the fingerprint chain before the table comment', (t) => {
  t.is(fingerprintOfListing(LISTING), '36ddb7719bcf140832e2180071903377');
  const inPlace = LISTING.replace(
    /\n\}\n$/,
    '\n\n\tchain fingerprint {\n\t\tcomment "nftlb fingerprint 0123abcd"\n\t}\n}\n',
  );
  t.is(fingerprintOfListing(inPlace), '0123abcd');
});

test('entries from nft JSON, and the commands that remove them whether or not they expired meanwhile', (t) => {
  const items = [
    {
      map: {
        name: 'persist4',
        elem: [[{ elem: { val: { concat: [0xaba91000, '203.0.113.0'] }, timeout: 300, expires: 120 } }, 0xaba91383]],
      },
    },
    { map: { name: 'persist4_daddr', elem: [[{ concat: [0x890bc000, '203.0.113.10', '203.0.113.53'] }, 0x890bce83]] } },
    {
      map: {
        name: 'persist6',
        elem: [[{ elem: { val: { concat: [0x890bc000, '0x20010db80001000000000000'] }, expires: 9 } }, 0x890bc0ad]],
      },
    },
    { map: { name: 'backends4', elem: [[1, { concat: ['198.51.100.2', 8080] }]] } },
  ];
  const es = entriesOfJson(items);
  t.deepEqual(es, [
    { map: 'persist4', mark: 0xaba91000, client: '203.0.113.0', vip: null, tag: 0xaba91383, expires: 120 },
    {
      map: 'persist4_daddr',
      mark: 0x890bc000,
      client: '203.0.113.10',
      vip: '203.0.113.53',
      tag: 0x890bce83,
      expires: null,
    },
    { map: 'persist6', mark: 0x890bc000, client: '2001:db8:1::', vip: null, tag: 0x890bc0ad, expires: 9 },
  ]);
  t.is(
    renderCommands(removeEntries({ family: 'inet', name: ident('nftlb') }, es)),
    [
      'add element inet nftlb persist4 { 0xaba91000 . 203.0.113.0 timeout 1s : 0xaba91383 }',
      'delete element inet nftlb persist4 { 0xaba91000 . 203.0.113.0 }',
      'add element inet nftlb persist4_daddr { 0x890bc000 . 203.0.113.10 . 203.0.113.53 timeout 1s : 0x890bce83 }',
      'delete element inet nftlb persist4_daddr { 0x890bc000 . 203.0.113.10 . 203.0.113.53 }',
      'add element inet nftlb persist6 { 0x890bc000 . 0x20010db80001000000000000 timeout 1s : 0x890bc0ad }',
      'delete element inet nftlb persist6 { 0x890bc000 . 0x20010db80001000000000000 }',
      '',
    ].join('\n'),
  );
});
