import test from 'ava';
import { ident, quote } from '../../src/nft/names.js';

test('accepts names nft accepts', (t) => {
  for (const n of ['svc_web_v4', 'svc-80', 'svc.80', 'be0', 'nftlb']) t.is(ident(n) as string, n);
});

test('refuses keywords and unsafe text', (t) => {
  for (const n of ['counter', 'fwd', 'ct', '80', 'svc:80', 'a b', 'x;flush ruleset', '']) t.throws(() => ident(n));
});

test('quote keeps comments inert', (t) => {
  t.is(quote('a "b" \\ c\nd'), `"a 'b' ' c?d"`);
  t.is(quote('x'.repeat(200)).length, 130);
});
