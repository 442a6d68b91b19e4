import { Argument, Command, Option } from 'commander';
import { thisNode } from '../cluster/node.js';
import { vrrpTransition } from '../cluster/notify.js';
import { NftlbError } from '../common/errors.js';
import { loadModel } from '../system/config-file.js';
import type { VrrpState } from '../system/cluster-role.js';
import { systemExecutor, type Executor } from '../system/executor.js';
import { configOption, hostOf, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { errorObject, printEnvelope, reportFailure } from './envelope.js';
import { clusterDirOption, clusterNodeOption } from './render.js';

// `nftlb cluster notify master|backup|fault`: what keepalived's notify scripts run on a VRRP transition (the rendered
// keepalived configuration names it): conntrackd's steps for the new state and the state recorded for nftlb status.
// Exit 0 when every step went through, 15 when conntrackd refused one (every step is tried; each failure is printed).
export function clusterCommand(ctx: CommandContext, exec: Executor = systemExecutor(ctx.env)): Command {
  const notify = new Command('notify')
    .description('run on a VRRP transition by keepalived: drive conntrackd for the new state and record it')
    .addArgument(new Argument('<state>', 'the new VRRP state').choices(['master', 'backup', 'fault']))
    .addOption(configOption())
    .addOption(clusterNodeOption())
    .addOption(clusterDirOption())
    .addOption(new Option('--json', 'print the outcome and each conntrackd step as JSON on stdout'))
    .action(async (state: VrrpState, opts: { config: string; node?: string; clusterDir?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const { model } = await loadModel(opts.config);
        const host = hostOf(ctx, exec, { node: opts.node, clusterDir: opts.clusterDir });
        if (model.cluster?.mode !== 'vrrp')
          throw new NftlbError('usage', `${opts.config} has no cluster section in mode vrrp`);
        const node = thisNode(model.cluster, host.cluster);
        const steps = await vrrpTransition(host, model, state);
        const failed = steps.filter((s) => s.error !== null);
        for (const s of failed) ctx.io.err(`nftlb cluster notify: ${s.error}\n`);
        ctx.io.err(
          `nftlb cluster notify: node ${node.name} is ${state}${failed.length > 0 ? ` (${failed.length} conntrackd step(s) failed)` : ''}\n`,
        );
        const error =
          failed.length > 0
            ? errorObject(
                new NftlbError('engine-failed', `${failed.length} conntrackd step(s) failed`, {
                  detail: failed.map((s) => s.error).join('\n'),
                }),
              )
            : null;
        const code = error === null ? EXIT.ok : EXIT.engineFailed;
        const fields = { action: 'notify', node: node.name, state, steps };
        if (json) printEnvelope(ctx.io, 'cluster', error === null ? 'notified' : 'error', code, fields, error);
        ctx.exit(code);
      } catch (e) {
        ctx.exit(reportFailure(ctx.io, 'cluster', json, e, opts.config, { action: 'notify', state }));
      }
    });
  return new Command('cluster')
    .description('commands the cluster engines run (keepalived notify scripts)')
    .addCommand(notify);
}
