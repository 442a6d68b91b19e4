import type { Family } from '../model/types.js';
import type { Plan } from '../plan/types.js';
import { buildIptables } from './build.js';
import { renderIptables } from './render.js';

// `nftlb render --format iptables` (family 4) and `--format ip6tables` (family 6): plan -> rule model -> text.
export function renderIptablesScript(p: Plan, family: Family): string {
  return renderIptables(buildIptables(p, family));
}
