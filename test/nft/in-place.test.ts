import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { holdsEntries, keepEntries, liveObjects } from '../../src/nft/in-place.js';
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
    { kind: 'map', name: ident('persist6'), type: 'typeof ct mark . @nh,64,96 : ct mark' },
  );
  t.deepEqual(
    o.sets.find((s) => s.name === 'nat_masquerade'),
    {
      kind: 'set',
      name: ident('nat_masquerade'),
      type: 'type mark',
    },
  );
  t.true(holdsEntries(LISTING));
  // Anything nftlb does not make (a named counter): not emptied object by object.
  t.is(liveObjects(LISTING.replace('\tchain pick {', '\tcounter hits {\n\t}\n\n\tchain pick {')), null);
});

test('keepEntries empties the live table but its entry maps, sets before chains', (t) => {
  const p = plan(modelOf(CONFIG));
  const inPlace = keepEntries(p, LISTING)!;
  const text = renderCommands(inPlace.preamble);
  t.true(text.startsWith('flush table inet nftlb\ndelete map inet nftlb services4\n'));
  t.notRegex(text, /delete map inet nftlb persist(4|6|4_daddr)\n/);
  t.regex(text, /delete map inet nftlb persist_live\ndelete map inet nftlb persist_tags\ndelete chain inet nftlb/);
  t.regex(text, /delete set inet nftlb nat_masquerade\n/);
  t.is(text.match(/^delete chain /gm)!.length, 17);
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

test('keepEntries keeps nothing when there is nothing to keep', (t) => {
  const p = plan(modelOf(CONFIG));
  const plain = plan(
    modelOf('services:\n  - { name: p, vip: 203.0.113.1, port: 80, backends: [{ address: 198.51.100.2 }] }\n'),
  );
  t.is(keepEntries(plain, LISTING), undefined, 'the new config has no persistence');
  const noMaps = LISTING.replace(/\tmap persist(4|6|4_daddr) \{[^}]*\}\n\n/g, '');
  t.false(holdsEntries(noMaps));
  t.is(keepEntries(p, noMaps), undefined, 'the live table has no entry maps');
  const otherType = LISTING.replace(/type mark \. ipv4_addr : mark/, 'type mark . ipv4_addr : ipv4_addr');
  t.deepEqual(
    renderCommands(keepEntries(p, otherType)!.preamble).match(/delete map inet nftlb persist4\n/)?.length,
    1,
    'a map declared otherwise is replaced',
  );
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
