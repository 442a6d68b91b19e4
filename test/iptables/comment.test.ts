// The nftlb comment grammar: what the render writes reads back as the same thing, through the rule line's quoting;
// weights no config accepts are malformed; other comments are not nftlb's.
import test from 'ava';
import fc from 'fast-check';
import { commentText, MAX_WEIGHT, readComment, type NftlbComment } from '../../src/iptables/comment.js';
import { parseSave } from '../../src/iptables/import/save-parser.js';
import { renderRule } from '../../src/iptables/render.js';
import { backendChain } from '../../src/iptables/names.js';

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/);
const scheduler = fc.constantFrom('round-robin', 'random', 'source-hash', 'symmetric-hash', 'maglev');
const comment: fc.Arbitrary<NftlbComment> = fc.oneof(
  fc.record({ kind: fc.constant('service' as const), name, scheduler: fc.option(scheduler, { nil: undefined }) }),
  fc.record({ kind: fc.constant('guard' as const), name, scheduler: fc.option(scheduler, { nil: undefined }) }),
  fc.record({
    kind: fc.constant('backend' as const),
    name,
    state: fc.constantFrom('up' as const, 'down' as const, 'drain' as const, 'backup' as const),
    weight: fc.integer({ min: 1, max: MAX_WEIGHT }),
  }),
);

test('every comment reads back as what was written', (t) => {
  fc.assert(
    fc.property(comment, (c) => {
      t.deepEqual(readComment(commentText(c)), c);
    }),
    { numRuns: 2000 },
  );
});

test('every comment survives the rule line: rendered with -m comment, parsed from iptables-save text', (t) => {
  fc.assert(
    fc.property(comment, (c) => {
      const line = renderRule(backendChain(1), {
        matches: [{ kind: 'comment', text: commentText(c) }],
        target: { kind: 'connmark-set', value: 1 },
      });
      const parsed = parseSave('x', `*nat\n${line}\nCOMMIT\n`);
      t.deepEqual(parsed.problems, []);
      t.deepEqual(parsed.rules[0]?.note, c);
    }),
    { numRuns: 500 },
  );
});

test('the texts the render writes, literally', (t) => {
  t.is(commentText({ kind: 'service', name: 'web', scheduler: 'random' }), 'nftlb service web random');
  t.is(commentText({ kind: 'guard', name: 'web', scheduler: 'random' }), 'nftlb service web random no backend up');
  t.is(
    commentText({ kind: 'backend', name: 'web', state: 'drain', weight: 3 }),
    'nftlb service web backend drain weight 3',
  );
});

test('a weight outside what a config accepts is malformed, with the reason', (t) => {
  for (const w of ['0', '10001', '99999999999', '0000000000000000000000000000000000000000']) {
    const r = readComment(`nftlb service web backend backup weight ${w}`);
    t.is(r?.kind, 'malformed', w);
    t.regex(r?.kind === 'malformed' ? r.reason : '', new RegExp(`weight ${w} .*outside 1\\.\\.${MAX_WEIGHT}`));
  }
});

test("comments nftlb did not write are not nftlb's", (t) => {
  for (const text of [
    'web frontend',
    'nftlb service',
    'nftlb service -web',
    'nftlb service web backend up',
    'nftlb service web backend sleepy weight 1',
    'nftlb service web weighted',
    'NFTLB service web',
  ])
    t.is(readComment(text), undefined, text);
});
