import { Command, InvalidArgumentError, Option } from 'commander';
import { parseAddress } from '../model/address.js';
import type { Address } from '../model/types.js';
import { overrideBackend, type BackendAction, type BackendOutcome } from '../ops/backend.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { parseWait } from './apply.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { printEnvelope, reportFailure } from './envelope.js';
import { EXIT } from './exit-codes.js';
import { stateDirOption } from './health.js';
import { printDiagnostics, type Io } from './io.js';

/** A backend as the command line names it. */
export interface BackendArgument {
  readonly address: Address;
  readonly port: number | undefined;
}

// Parses ADDRESS[:PORT]: 198.51.100.2, 198.51.100.2:8080, 2001:db8::2, [2001:db8::2]:8080.
export function parseBackendArgument(text: string): BackendArgument {
  const bad = (): InvalidArgumentError =>
    new InvalidArgumentError('expected ADDRESS or ADDRESS:PORT (an IPv6 address with a port: [ADDRESS]:PORT)');
  let host = text;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(text);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2];
  } else if (text.indexOf(':') === text.lastIndexOf(':') && text.includes(':')) {
    host = text.slice(0, text.indexOf(':'));
    portText = text.slice(text.indexOf(':') + 1);
  }
  const address = parseAddress(host);
  if (address === undefined || (v6 !== null && address.family !== 6)) throw bad();
  if (portText === undefined) return { address, port: undefined };
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port < 1 || port > 65535) throw bad();
  return { address, port };
}

const WHAT: Record<BackendAction, string> = {
  drain: 'take no new connections and keep the established ones (an override of the config, until undrain or up)',
  undrain: "remove the backend's override (drain or down): it takes the state of the config again",
  down: 'take no new connections; with on-down: reset its connections are deleted (an override, until up or undrain)',
  up: "remove the backend's override (down or drain): it takes the state of the config again",
};

// `nftlb backend drain|undrain|down|up SERVICE ADDRESS[:PORT]`: a runtime override of a backend's state, on the live
// table at once and kept (in the state directory) until undone.
export function backendCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const top = new Command('backend').description(
    "override a backend's state at run time: drain, undrain, down, up (kept until undone; apply and health keep it)",
  );
  for (const action of ['drain', 'undrain', 'down', 'up'] as const) {
    const sub = new Command(action)
      .description(WHAT[action])
      .argument('<service>', 'the service name')
      .argument('<address>', 'the backend: ADDRESS or ADDRESS:PORT ([ADDRESS]:PORT for IPv6)', parseBackendArgument)
      .addOption(configOption())
      .addOption(stateDirOption())
      .addOption(new Option('--json', 'print the outcome as JSON on stdout'))
      .addOption(
        new Option('--wait <seconds>', 'wait up to SECONDS for the apply lock').argParser(parseWait).default(10),
      )
      .addOption(
        new Option('--lock-file <file>', 'lock file shared with apply (default: $NFTLB_LOCK or /run/nftlb/apply.lock)'),
      )
      .action(
        async (
          service: string,
          backend: BackendArgument,
          opts: { config: string; stateDir?: string; json?: boolean; wait: number; lockFile?: string },
        ) => {
          const json = opts.json === true;
          try {
            const r = await overrideBackend(hostOf(ctx, exec, { lockFile: opts.lockFile, stateDir: opts.stateDir }), {
              config: opts.config,
              action,
              service,
              address: backend.address,
              port: backend.port,
              waitSeconds: opts.wait,
            });
            printDiagnostics(ctx.io, opts.config, r.warnings);
            logOutcome(ctx.io, r);
            if (json)
              printEnvelope(ctx.io, 'backend', r.previous === r.override ? 'unchanged' : 'changed', EXIT.ok, {
                action,
                ...outcomeFields(r),
              });
            ctx.exit(EXIT.ok);
          } catch (e) {
            ctx.exit(reportFailure(ctx.io, 'backend', json, e, opts.config, { action }));
          }
        },
      );
    sub.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
    top.addCommand(sub);
  }
  return top;
}

// The lines an operator (and the journal) reads: the override, the state, and what happened to the table.
function logOutcome(io: Io, r: BackendOutcome): void {
  for (const n of r.notes) io.err(`nftlb: warning: ${n}\n`);
  for (const k of r.dropped) io.err(`nftlb: dropped the override of ${k}: no such backend in the config any more\n`);
  const who = `${r.service} ${r.endpoint}`;
  const config = r.configState === r.state ? ` (the config's${r.override === null ? '' : ' too'})` : '';
  const change =
    r.previous === r.override
      ? r.override === null
        ? 'no override to remove'
        : `override ${r.override} already set`
      : r.override === null
        ? `override ${r.previous} removed`
        : `override ${r.override} set${r.previous === null ? '' : ` (was ${r.previous})`}`;
  io.err(`nftlb: backend ${who} (id ${r.id}): ${change}; state ${r.state}${config}\n`);
  const s = r.sync;
  if (s.action === 'full') io.err(`nftlb: reloaded table inet ${r.table} (${s.why})\n`);
  else if (s.action === 'incremental') io.err(`nftlb: table inet ${r.table}: ${s.why}\n`);
  if (s.reset.length > 0) io.err(`nftlb: reset connections of backend id ${s.reset.join(', ')} (on-down: reset)\n`);
}

// The outcome's fields in --json, after the envelope and the action.
function outcomeFields(r: BackendOutcome): object {
  return {
    table: r.table,
    service: r.service,
    backend: r.endpoint,
    id: r.id,
    override: r.override,
    previous: r.previous,
    configState: r.configState,
    state: r.state,
    update: { action: r.sync.action, why: r.sync.why, services: r.sync.services, reset: r.sync.reset },
    dropped: r.dropped,
  };
}
