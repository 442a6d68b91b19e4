import { keyPath, type Diagnostic } from '../../common/diagnostic.js';
import { NftlbError } from '../../common/errors.js';
import { configYaml, toConfig } from './config-writer.js';
import type { ImportedService } from './imported.js';
import { inventedListenerClashes } from './invented-listeners.js';
import { recognise } from './recognise-services.js';
import type { Problem } from './parsed-rule.js';
import { parseSave } from './save-parser.js';
import { leaveOut, serviceProblem } from './service-checks.js';

// `nftlb import iptables` from texts to a config: parse, recognise, leave out what a config cannot say, write YAML.
// The config it prints always passes nftlb's own check; a service that would not is left out and its rules listed.

/** One input: its name for messages and its text. */
export interface ImportInput {
  readonly file: string;
  readonly text: string;
}

/** The config text, how many services it holds, the rules ignored (no config equivalent, nothing lost) and the rules
 *  not imported. */
export interface ImportResult {
  readonly yaml: string;
  readonly services: number;
  readonly ignored: readonly Problem[];
  readonly problems: readonly Problem[];
}

/** Checks a config text and returns its diagnostics: the config reader, passed in by the caller (it sits in a layer
 * above this one). */
export type ConfigCheck = (text: string) => readonly Diagnostic[];

/** Marks a service left out because the config check refused it, not one of the importer's own checks: each such case
 * is a gap in those checks (the import tests look for it). */
export const CHECK_REFUSED = 'a config with it fails nftlb check';

const SERVICE_PATH = /^\/services\/([0-9]+)(\/.*)?$/;

// Imports iptables-save texts; rules that could not be imported are in `problems` (sorted by file and line).
export function importIptables(inputs: readonly ImportInput[], check: ConfigCheck): ImportResult {
  const { services, ignored, problems } = recognise(inputs.map((i) => parseSave(i.file, i.text)));
  const refused = new Map<ImportedService, string>();
  for (const s of services) {
    const why = serviceProblem(s);
    if (why !== undefined) refused.set(s, why);
  }
  let kept = leaveOut(services, refused, problems);
  // Listeners a config would add by its cross product, overlapping another service's: after the checks above, which
  // it counts on (a service's own port entries do not overlap).
  kept = leaveOut(kept, inventedListenerClashes(kept), problems);
  // Each round leaves out at least one service, so this ends; a diagnostic no service explains is a bug.
  for (;;) {
    const { config, order } = toConfig(kept);
    const yaml = configYaml(config);
    const errors = check(yaml).filter((d) => d.severity === 'error');
    if (errors.length === 0) return { yaml, services: kept.length, ignored, problems: sortProblems(problems, inputs) };
    const failed = new Map<ImportedService, string>();
    for (const d of errors) {
      const m = SERVICE_PATH.exec(d.path);
      const s = m === null ? undefined : order[Number(m[1])];
      if (s === undefined)
        throw new NftlbError(
          'internal',
          `the imported config does not validate (a bug in the importer): ${keyPath(d.path) || '(document)'}: ${d.message}`,
        );
      if (!failed.has(s)) failed.set(s, `service ${s.name}: ${CHECK_REFUSED}: ${keyPath(m![2] ?? '')}: ${d.message}`);
    }
    kept = leaveOut(kept, failed, problems);
  }
}

// Problems in input order, then by line.
function sortProblems(problems: readonly Problem[], inputs: readonly ImportInput[]): Problem[] {
  const rank = new Map(inputs.map((i, n) => [i.file, n]));
  return [...problems].sort((a, b) => rank.get(a.file)! - rank.get(b.file)! || a.line - b.line);
}
