// Helpers for the iptables kernel tests: render a YAML config to iptables-restore input through the real pipeline,
// load it with the nft or legacy backend in the lb namespace, and hook nftlb's chains in (once).
import { formatDiagnostic } from '../../src/common/diagnostic.js';
import { checkConfig } from '../../src/config/read.js';
import { HOOKS } from '../../src/iptables/render.js';
import { renderIptablesScript } from '../../src/iptables/script.js';
import { plan } from '../../src/plan/plan.js';
import type { Plan } from '../../src/plan/types.js';
import type { Topology } from './support/topology.js';

/** iptables-nft (nf_tables backend) or iptables-legacy (x_tables). */
export type IptBackend = 'nft' | 'legacy';

// Plans a YAML config; throws with the diagnostics when it is invalid.
export function planYaml(yaml: string): Plan {
  const checked = checkConfig('test.yaml', yaml);
  if (checked.model === undefined) {
    throw new Error(
      `test config invalid:\n${checked.diagnostics.map((d) => formatDiagnostic('test.yaml', d)).join('\n')}`,
    );
  }
  return plan(checked.model);
}

// The program name for a family and backend, e.g. ip6tables-legacy-restore.
export function tool(family: 4 | 6, backend: IptBackend, suffix: '' | '-restore' | '-save'): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}${suffix}`;
}

// Whether this backend can load rules in the lb namespace (legacy needs the x_tables modules, absent on some kernels).
export async function backendUsable(topo: Topology, backend: IptBackend): Promise<{ ok: boolean; reason: string }> {
  const r = await topo.exec(topo.lb, [tool(4, backend, '-restore'), '--noflush'], {
    input: '*nat\n:NFTLB-PROBE - [0:0]\nCOMMIT\n',
    reject: false,
  });
  if (r.exitCode !== 0) return { ok: false, reason: `${tool(4, backend, '-restore')} failed: ${r.stderr.trim()}` };
  await topo.exec(topo.lb, [tool(4, backend, ''), '-t', 'nat', '-X', 'NFTLB-PROBE']);
  return { ok: true, reason: '' };
}

// Loads rendered iptables-restore input (`<tool>-restore --noflush`, as the docs say) and hooks the chains in when
// they are not hooked yet, with the same -C || -I the rendered header prints.
export async function loadIptables(topo: Topology, text: string, family: 4 | 6, backend: IptBackend): Promise<void> {
  await topo.exec(topo.lb, [tool(family, backend, '-restore'), '--noflush'], { input: text });
  for (const h of HOOKS) {
    const present = await topo.exec(
      topo.lb,
      [tool(family, backend, ''), '-t', h.table, '-C', h.chain, '-j', h.target],
      { reject: false },
    );
    if (present.exitCode !== 0)
      await topo.exec(topo.lb, [tool(family, backend, ''), '-t', h.table, '-I', h.chain, '1', '-j', h.target]);
  }
}

// Renders a config for one family and loads it.
export async function loadYamlIptables(
  topo: Topology,
  yaml: string,
  family: 4 | 6,
  backend: IptBackend,
): Promise<string> {
  const text = renderIptablesScript(planYaml(yaml), family);
  await loadIptables(topo, text, family, backend);
  return text;
}

// The number of connections conntrack holds with ct mark `id` in the lb namespace (`conntrack -L --mark`).
export async function conntrackByMark(topo: Topology, id: number): Promise<number> {
  const r = await topo.exec(topo.lb, ['conntrack', '-L', '--mark', String(id)], { reject: false });
  return r.stdout.split('\n').filter((l) => l.trim().length > 0).length;
}
