import { Command, Option } from 'commander';
import { loadModel } from '../system/config-file.js';
import { backendSetup, type BackendSetup } from '../ops/backend-setup.js';
import { configOption, type CommandContext } from './context.js';
import { EXIT } from './exit-codes.js';
import { printEnvelope, reportFailure, reportUsage } from './envelope.js';
import { printDiagnostics } from './io.js';

// `nftlb backend-setup`: prints the commands one DSR backend needs (the VIP on lo, the ARP sysctls), as a shell script
// to run on that backend, or as JSON. Exit 2 when the address is not a backend of a DSR service of the config.
export function backendSetupCommand(ctx: CommandContext): Command {
  return new Command('backend-setup')
    .description('print the commands a DSR backend needs (VIP on lo, arp_ignore/arp_announce), to run on that backend')
    .addOption(configOption())
    .addOption(
      new Option('--backend <address>', 'the backend address, as in the config (required)').makeOptionMandatory(),
    )
    .addOption(
      new Option('--interface <name>', "the backend's own interface on the segment (sets the ARP sysctls there too)"),
    )
    .addOption(new Option('--json', 'print the recipe as JSON on stdout'))
    .action(async (opts: { config: string; backend: string; interface?: string; json?: boolean }) => {
      const json = opts.json === true;
      const fields = { backend: opts.backend };
      try {
        const { model, warnings } = await loadModel(opts.config);
        printDiagnostics(ctx.io, opts.config, warnings);
        if (opts.interface !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(opts.interface))
          return ctx.exit(
            reportUsage(
              ctx.io,
              'backend-setup',
              json,
              `--interface: not an interface name: ${JSON.stringify(opts.interface)}`,
              fields,
            ),
          );
        const r = backendSetup(model, opts.backend, opts.interface);
        if (r === undefined || r.services.length === 0)
          return ctx.exit(
            reportUsage(
              ctx.io,
              'backend-setup',
              json,
              `${opts.backend} is ${r === undefined ? 'not an IP address' : `no backend of a DSR service in ${opts.config}`}`,
              fields,
            ),
          );
        if (json) printEnvelope(ctx.io, 'backend-setup', 'ok', EXIT.ok, r);
        else ctx.io.out(script(r, opts.config));
        ctx.exit(EXIT.ok);
      } catch (e) {
        ctx.exit(reportFailure(ctx.io, 'backend-setup', json, e, opts.config, fields));
      }
    });
}

// The recipe as a shell script: one command per line, each after a comment saying why.
function script(r: BackendSetup, config: string): string {
  const lines = [
    '#!/bin/sh',
    `# nftlb backend-setup: backend ${r.address} of DSR service${r.services.length === 1 ? '' : 's'} ${r.services.join(', ')} (${config}).`,
    '# Run as root on that backend. Not kept across reboots: put the address in the network configuration and the',
    '# sysctls in /etc/sysctl.d/ to keep them.',
    'set -e',
  ];
  for (const s of r.steps) lines.push(`# ${s.why}`, s.argv.join(' '));
  if (r.address.includes(':'))
    lines.push(
      '# IPv6 needs no sysctl: the kernel answers neighbour solicitations only for addresses of the interface they',
      '# arrive on, and never sends one from an address of lo.',
    );
  for (const l of r.listen)
    lines.push(
      `# Service ${l.service} must listen on ${l.vip} (or on every address), ${l.protocols.join(' and ')} port ${l.ports}.`,
    );
  return `${lines.join('\n')}\n`;
}
