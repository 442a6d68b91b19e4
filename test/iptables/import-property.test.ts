// Properties of `nftlb import iptables` over generated iptables-save text: exit 0 or 11 only (never 1, never a throw),
// a config that passes nftlb check on stdout, every rule not imported listed with its file, line and why, and nothing
// left to the config check as a last resort (each such case is a gap in the importer's own checks).
import test from 'ava';
import fc from 'fast-check';
import { EXIT } from '../../src/cli/exit-codes.js';
import { checkConfig } from '../../src/config/read.js';
import { CHECK_REFUSED } from '../../src/iptables/import/import-pipeline.js';
import { renderIptablesScript } from '../../src/iptables/script.js';
import type { Model } from '../../src/model/types.js';
import { plan } from '../../src/plan/plan.js';
import { editedRender, hostileSave, iptablesModelArb } from './save-arbitrary.js';
import { importRunner, type ImportRun } from './support.js';

const LISTED = /^(.+):([0-9]+): (ignored|not understood): (.+)$/;
const SUMMARY = /^nftlb: ([0-9]+) rules? not imported \(listed above\)$/;

const importTexts = importRunner(test);

// Everything a run must satisfy; a string says what broke.
function violation(texts: readonly string[], r: ImportRun): string | undefined {
  if (r.code !== EXIT.ok && r.code !== EXIT.importIncomplete) return `exit ${r.code}: ${r.err}`;
  const checked = checkConfig('out.yaml', r.out);
  if (checked.model === undefined) return `stdout is not a valid config: ${JSON.stringify(checked.diagnostics)}`;
  const lines = r.err.split('\n').filter((l) => l !== '');
  let listed = 0;
  let summary: number | undefined;
  for (const line of lines) {
    const s = SUMMARY.exec(line);
    if (s !== null) {
      summary = Number(s[1]);
      continue;
    }
    const m = LISTED.exec(line);
    if (m === null) return `unexpected stderr line: ${line}`;
    if (line.includes(CHECK_REFUSED)) return `left to the config check: ${line}`;
    const fileIndex = r.files.indexOf(m[1]!);
    const text = texts[fileIndex]?.split('\n')[Number(m[2]) - 1]?.trim();
    if (text === undefined || !m[4]!.endsWith(`: ${text}`)) return `listed line does not match the input: ${line}`;
    if (m[3] === 'not understood') listed++;
  }
  if ((summary ?? 0) !== listed) return `summary says ${summary} rules, ${listed} listed`;
  if ((r.code === EXIT.importIncomplete) !== listed > 0) return `exit ${r.code} with ${listed} rules listed`;
  return undefined;
}

test('hostile recipes, random rules and junk: exit 0 or 11, a valid config, every rule not imported listed', async (t) => {
  await fc.assert(
    fc.asyncProperty(hostileSave, async (text) => {
      const r = await importTexts([text]);
      const v = violation([text], r);
      if (v !== undefined) t.log(text);
      t.is(v, undefined);
      return v === undefined;
    }),
    { numRuns: 400 },
  );
});

test('nftlb renders of random configs with random edits: exit 0 or 11, a valid config, every rule not imported listed', async (t) => {
  await fc.assert(
    fc.asyncProperty(editedRender, async ({ v4, v6 }) => {
      const r = await importTexts([v4, v6]);
      const v = violation([v4, v6], r);
      if (v !== undefined) t.log(v4, '\n----\n', v6);
      t.is(v, undefined);
      return v === undefined;
    }),
    { numRuns: 300 },
  );
});

// What a render carries for every service: name, listeners, NAT, and each backend with port, weight and state (a
// backend without a port in a one-port service is rendered with that port). The scheduler of a pool of one backend,
// on-empty with backends up, health and limits are not in the rules.
function carried(m: Model): unknown {
  return m.services.map((s) => {
    const only = s.ports.length === 1 && s.ports[0]!.first === s.ports[0]!.last ? s.ports[0]!.first : undefined;
    return {
      name: s.name,
      vips: s.vips,
      protocols: s.protocols,
      ports: s.ports,
      nat: s.nat,
      backends: s.backends.map((b) => ({ address: b.address, port: b.port ?? only, weight: b.weight, state: b.state })),
    };
  });
}

test('nftlb renders of random configs import with every rule understood, to the same services', async (t) => {
  await fc.assert(
    fc.asyncProperty(iptablesModelArb, async (m) => {
      const p = plan(m);
      const [v4, v6] = [renderIptablesScript(p, 4), renderIptablesScript(p, 6)];
      const r = await importTexts([v4, v6]);
      const back = checkConfig('out.yaml', r.out).model;
      const ok = r.code === EXIT.ok && r.err === '' && back !== undefined;
      if (!ok) t.log(v4, '\n----\n', v6, '\n----\n', r.err);
      t.true(ok);
      t.deepEqual(carried(back!), carried(m));
      return ok;
    }),
    { numRuns: 150 },
  );
});
