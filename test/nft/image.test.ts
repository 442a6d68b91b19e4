import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deltaScript, imageText, parseImage, tableImage, type TableImage } from '../../src/nft/image.js';
import { ident } from '../../src/nft/names.js';
import { renderNftScript } from '../../src/nft/script.js';
import { plan } from '../../src/plan/plan.js';
import { FIXTURES } from '../support/fixtures.js';
import { modelOf } from '../support/model.js';

const service = (name: string, port: number, backends: string[], extra = ''): string =>
  [
    `  - name: ${name}`,
    '    vip: 203.0.113.1',
    `    port: ${port}`,
    ...(extra === '' ? [] : [extra]),
    '    backends:',
    ...backends.map((b) => `      - { address: ${b}, port: 8080 }`),
  ].join('\n');

const config = (...services: string[]): string => ['services:', ...services].join('\n');
const imageOf = (yaml: string): TableImage => tableImage(plan(modelOf(yaml)));

const BASE = config(
  service('web', 80, ['198.51.100.2', '198.51.100.3']),
  service('mail', 25, ['198.51.100.4', '198.51.100.5']),
);

test('an image is the script body object by object, with the fingerprint the script carries', (t) => {
  for (const fixture of ['persistence/basic', 'maglev/small-table', 'ports/range-and-list', 'nat/snat-dual']) {
    const p = plan(modelOf(readFileSync(join(FIXTURES, fixture, 'config.yaml'), 'utf8')));
    const i = tableImage(p);
    const script = renderNftScript(p);
    t.is(i.fingerprint, script.fingerprint, fixture);
    for (const c of i.chains) t.true(script.text.includes(`${c.text}\n`), `${fixture}: chain ${c.name}`);
    for (const s of i.sets) {
      t.true(script.text.includes(s.head), `${fixture}: set ${s.name}`);
      for (const e of s.elements === '' ? [] : s.elements.split('\n'))
        t.true(script.text.includes(e), `${fixture}: ${s.name} element ${e}`);
    }
    t.deepEqual(parseImage(imageText(i)), i, `${fixture}: the JSON form reads back`);
  }
});

test('a plan with DSR: the image has the fingerprint of both tables, and the netdev table goes whole in a delta', (t) => {
  const p = plan(modelOf(readFileSync(join(FIXTURES, 'dsr', 'mixed-nat', 'config.yaml'), 'utf8')));
  const i = tableImage(p);
  const script = renderNftScript(p);
  t.is(i.fingerprint, script.fingerprint);
  t.deepEqual(i.dsr, { family: 'netdev', name: ident('nftlb_dsr') });
  t.true(script.text.endsWith(i.dsrScript!), 'the netdev table as the script writes it');
  const plain = imageOf(BASE);
  const into = deltaScript(plain, i)!;
  t.true(into.script.endsWith(i.dsrScript!));
  t.deepEqual(into.deleted, []);
  const stored = parseImage(imageText(i))!;
  t.deepEqual(stored.dsr, i.dsr);
  const out = deltaScript(stored, plain)!;
  t.regex(out.script, /^delete table netdev nftlb_dsr$/m);
  t.deepEqual(out.deleted, [{ family: 'netdev', name: ident('nftlb_dsr') }]);
  t.is(deltaScript(plain, stored), undefined, 'an image read back has no netdev script to send');
});

test('a changed backend port is one map element deleted and added, and the fingerprint chain', (t) => {
  const before = imageOf(BASE);
  const after = imageOf(
    config(
      service('web', 80, ['198.51.100.2', '198.51.100.3']),
      service('mail', 25, ['198.51.100.4', '198.51.100.5']).replace(/5, port: 8080/, '5, port: 8081'),
    ),
  );
  const d = deltaScript(before, after)!;
  t.deepEqual([d.chains, d.elements, d.sets], [0, 2, 0]);
  const lines = d.script.split('\n');
  t.true(lines.includes('delete element inet nftlb backends4 { 4 }'), d.script);
  t.true(lines.includes('delete chain inet nftlb fingerprint'));
  t.true(d.script.includes('4 : 198.51.100.5 . 8081'));
  t.true(d.script.includes(`comment "nftlb fingerprint ${after.fingerprint}"`));
  t.false(d.script.includes('flush chain'), 'no chain is rewritten');
  t.deepEqual(d.image, after);
});

test('a service added and one removed: their chains and elements, nothing else', (t) => {
  const before = imageOf(BASE);
  const after = imageOf(
    config(service('web', 80, ['198.51.100.2', '198.51.100.3']), service('dns', 53, ['198.51.100.6'])),
  );
  const d = deltaScript(before, after)!;
  t.true(d.chains >= 2, d.script);
  t.regex(d.script, /^flush chain inet nftlb svc_mail_v4$/m);
  t.regex(d.script, /^delete chain inet nftlb svc_mail_v4$/m);
  t.regex(d.script, /\tchain svc_dns_v4 \{/);
  t.notRegex(d.script, /chain svc_web_v4/, 'the unchanged service is not touched');
  // Deletions in order: chains flushed, then elements, then sets, then chains.
  const at = (re: RegExp): number => d.script.search(re);
  t.true(at(/^flush chain/m) < at(/^delete element/m));
  t.true(at(/^delete element/m) < at(/^delete chain/m));
});

test('a set declared with a larger size is declared again, with every chain that uses it; a smaller one is kept', (t) => {
  const before = imageOf(BASE);
  const grown = imageOf(
    config(
      service('web', 80, ['198.51.100.2', '198.51.100.3']),
      service('mail', 25, ['198.51.100.4', '198.51.100.5']),
      service('dns', 53, ['198.51.100.6']),
    ),
  );
  const d = deltaScript(before, grown)!;
  t.regex(d.script, /^delete map inet nftlb services4$/m, d.script);
  for (const c of grown.chains.filter((x) => x.text.includes('@services4')))
    t.regex(d.script, new RegExp(`^flush chain inet nftlb ${c.name}$`, 'm'), `${c.name} uses services4`);
  const shrunk = deltaScript(grown, before)!;
  t.notRegex(shrunk.script, /^delete map inet nftlb services4$/m, 'a larger live size holds the smaller one');
  const kept = shrunk.image.sets.find((s) => s.name === 'services4')!;
  t.is(kept.head, grown.sets.find((s) => s.name === 'services4')!.head, 'the image keeps the live size');
});

test('no delta when a base chain hook changes', (t) => {
  const before = imageOf(BASE);
  const after = imageOf(config(service('web', 80, ['198.51.100.2'])));
  const base = before.chains.find((c) => c.hook !== null)!;
  const moved: TableImage = {
    ...before,
    chains: before.chains.map((c) => (c === base ? { ...c, hook: `${c.hook!} x`, text: `${c.text} ` } : c)),
  };
  t.is(deltaScript(moved, after), undefined);
  t.not(deltaScript(before, after), undefined);
});

test('parseImage refuses what is not an image', (t) => {
  const good = JSON.parse(imageText(imageOf(BASE))) as Record<string, unknown>;
  const set = (...s: unknown[]): string => JSON.stringify({ ...good, sets: [s] });
  t.not(
    parseImage(set('map', 'm', 'type mark : mark', 'flags interval', 8, 'head', 'a : 1', 'a')),
    null,
    'a valid set',
  );
  t.not(parseImage(set('set', 's', 'type mark', null, null, 'head', '', null)), null, 'a valid empty set');
  for (const bad of [
    '',
    'null',
    '[]',
    JSON.stringify({ ...good, table: ['netdev', 'x'] }),
    JSON.stringify({ ...good, dsr: 3 }),
    set('map', 'm', 'type mark : mark', null, null, 'head', 'a', null),
    set('set', 'm', 'type mark', null, null, 'head', 'a', 'k'),
    set('map', 'm', 'type mark : mark', null, null, 'head', 'a\nb', 'k'),
    set('set', 'm', 'type mark', null, null, 'head', ['a'], null),
    set('set', 'm', 3, null, null, 'head', 'a', null),
    set('set', 'm', 'type mark', null, 1.5, 'head', 'a', null),
    set('set', 'm', 'head', 'a', null),
    JSON.stringify({ ...good, chains: [['bad name!', null, 'x']] }),
    JSON.stringify({ ...good, fingerprint: 3 }),
  ])
    t.is(parseImage(bad), null, bad.slice(0, 60));
});
