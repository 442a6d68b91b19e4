// Every iptables golden render goes through iptables-restore-translate, and `nft -c` (check only, in a namespace)
// accepts the result. Only HMARK has no nft translation; the test pins that down so no other rule silently drops out.
import { execa } from 'execa';
import { readdirSync, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../iptables/support.js';
import { kernelTest } from './support/kernel-test.js';
import { withTopology } from './support/topology.js';

const ROOT = join(fixturesDir(), 'iptables');

kernelTest(
  'iptables-restore-translate turns every iptables render into nft that nft -c accepts; only HMARK is untranslated',
  async (t) => {
    const cases = readdirSync(ROOT).filter((d) => !d.startsWith('_') && existsSync(join(ROOT, d, 'expected')));
    t.true(cases.length >= 4, `fixtures found: ${cases.join(', ')}`);
    const dir = await mkdtemp(join(tmpdir(), 'nftlb-ipt-'));
    try {
      await withTopology({ clients: 1, backends4: 1, backends6: 1 }, async (topo) => {
        for (const name of cases) {
          for (const [family, file] of [
            [4, 'iptables.rules'],
            [6, 'ip6tables.rules'],
          ] as const) {
            const rules = await readFile(join(ROOT, name, 'expected', file), 'utf8');
            const path = join(dir, `${name}-${file}`);
            await writeFile(path, rules);
            const tr = await execa(
              family === 4 ? 'iptables-restore-translate' : 'ip6tables-restore-translate',
              ['-f', path],
              { reject: false },
            );
            t.is(tr.exitCode, 0, `${name}/${file}: ${tr.stderr}`);
            const untranslated = tr.stdout.split('\n').filter((l) => l.startsWith('# -t') || l.startsWith('# -A'));
            const hmarkRules = rules.split('\n').filter((l) => l.startsWith('-A') && l.includes(' -j HMARK '));
            t.deepEqual(
              untranslated.map((l) => l.includes(' -j HMARK ')),
              hmarkRules.map(() => true),
              `${name}/${file}: only HMARK is untranslated:\n${untranslated.join('\n')}`,
            );
            // The full-mask CONNMARK form translates to a plain `ct mark set ID` (the masked form mistranslates).
            const sets = rules.split('\n').filter((l) => l.includes('--set-xmark')).length;
            t.is(
              tr.stdout.split('\n').filter((l) => /ct mark set 0x[0-9a-f]+ /.test(l)).length,
              sets,
              `${name}/${file}: ct mark set`,
            );
            const check = await topo.exec(topo.lb, ['nft', '-c', '-f', '-'], {
              input: `${tr.stdout}\n`,
              reject: false,
            });
            t.is(check.exitCode, 0, `${name}/${file}: nft -c: ${check.stderr}`);
          }
        }
        // nft -c must be able to fail here, or the checks above prove nothing.
        const bad = await topo.exec(topo.lb, ['nft', '-c', '-f', '-'], {
          input: 'add table ip nat\nadd rule ip nat NOCHAIN counter\n',
          reject: false,
        });
        t.not(bad.exitCode, 0);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
