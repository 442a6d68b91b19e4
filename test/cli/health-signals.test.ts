// `nftlb health --watch` is a service: a SIGHUP or SIGTERM that comes while it starts (reading the config, checking for
// conntrack) is acted on once it watches, never left to the signal's default action, which would end the process.
import test from 'ava';
import type { CommandContext } from '../../src/cli/context.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { healthCommand, type SignalSource } from '../../src/cli/health.js';
import { FakeSystem } from '../support/fake-system.js';
import { scratch } from '../support/run-command.js';

type Sig = 'SIGHUP' | 'SIGTERM' | 'SIGINT';

// A process's signals: listeners get them; with none, the default action ends the process (recorded).
class Signals implements SignalSource {
  private readonly listeners = new Map<Sig, Set<() => void>>();
  killedBy: Sig | undefined;
  on(s: Sig, fn: () => void): void {
    if (!this.listeners.has(s)) this.listeners.set(s, new Set());
    this.listeners.get(s)!.add(fn);
  }
  off(s: Sig, fn: () => void): void {
    this.listeners.get(s)?.delete(fn);
  }
  emit(s: Sig): void {
    const fns = [...(this.listeners.get(s) ?? [])];
    if (fns.length === 0) this.killedBy ??= s;
    for (const fn of fns) fn();
  }
}

// on-down reset: health asks for conntrack while it starts, before it watches; that is when the signal comes.
const CONFIG = `table: sig
services:
  - name: web
    vip: 203.0.113.1
    port: 80
    on-down: reset
    health: { type: exec, command: ["true"], interval: 1 }
    backends:
      - { address: 198.51.100.2, port: 8080 }
`;

// Runs health --watch with `signals`; `atStart` is sent while it starts, `onErr` sees each stderr write.
async function watch(
  signals: Signals,
  atStart: Sig,
  onErr: (text: string) => void,
): Promise<{ code: number; stderr: string }> {
  const s = scratch(CONFIG);
  const exec = new FakeSystem();
  const run = exec.run.bind(exec);
  exec.run = async (cmd, args, input) => {
    if (cmd === 'conntrack' && args[0] === '--version') signals.emit(atStart);
    return run(cmd, args, input);
  };
  let stderr = '';
  let code = -1;
  const ctx: CommandContext = {
    io: {
      out: () => undefined,
      err: (x) => {
        stderr += x;
        onErr(stderr);
      },
    },
    env: { NFTLB_STATE_DIR: s.dir },
    exit: (c) => void (code = c),
  };
  const cmd = healthCommand(ctx, exec, signals).exitOverride();
  await cmd.parseAsync(['--watch', '-c', s.config, '--lock-file', s.lock, '--state-dir', s.dir], { from: 'user' });
  return { code, stderr };
}

test('health --watch: a SIGTERM while it starts stops it once it watches, exit 0', async (t) => {
  const signals = new Signals();
  const r = await watch(signals, 'SIGTERM', () => undefined);
  t.is(signals.killedBy, undefined, 'the default action would have ended it');
  t.is(r.code, EXIT.ok, r.stderr);
  t.regex(r.stderr, /nftlb health: watching .*\n(.*\n)*nftlb health: stopping\n/);
});

test('health --watch: a SIGHUP while it starts reloads the config once it watches', async (t) => {
  const signals = new Signals();
  let stopped = false;
  const r = await watch(signals, 'SIGHUP', (text) => {
    if (!stopped && text.includes('nftlb health: reloaded ')) {
      stopped = true;
      signals.emit('SIGTERM');
    }
  });
  t.is(signals.killedBy, undefined, 'the default action would have ended it');
  t.is(r.code, EXIT.ok, r.stderr);
  t.regex(r.stderr, /nftlb health: watching .*\n(.*\n)*nftlb health: reloaded .*\n(.*\n)*nftlb health: stopping\n/);
});
