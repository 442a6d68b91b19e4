// A fake host for the cluster unit tests: a birdc that answers from a table of protocols (enable and disable change
// it; a missing socket fails as birdc does), a conntrackd client that records its commands and fails on demand.
import { NftlbError } from '../../src/common/errors.js';
import type { ExecResult, Executor } from '../../src/system/executor.js';
import { resolveHost, type Host } from '../../src/system/host.js';

export class FakeEngines implements Executor {
  /** BIRD's protocols: name -> state (up/down) and info. */
  protocols = new Map<string, { proto: string; state: string; info: string }>();
  /** BIRD is not running (no control socket). */
  birdDown = false;
  /** conntrackd client commands given (their flag), in order. */
  readonly conntrackd: string[] = [];
  /** conntrackd flags that fail. */
  failing = new Set<string>();
  missing = new Set<string>();
  readonly calls: string[] = [];

  host(dir: string, o: { node?: string } = {}): Host {
    return resolveHost(this, { NFTLB_CLUSTER_DIR: dir }, { lockFile: `${dir}/apply.lock`, stateDir: dir, ...o });
  }

  async run(cmd: string, args: readonly string[]): Promise<ExecResult> {
    this.calls.push(`${cmd} ${args.join(' ')}`);
    if (this.missing.has(cmd)) throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    if (cmd === 'birdc') return this.birdc(args.slice(2));
    if (cmd === 'conntrackd') {
      const flag = args[2] ?? '';
      this.conntrackd.push(flag);
      return this.failing.has(flag)
        ? {
            exitCode: 1,
            stdout: '',
            stderr: "[ERROR] can't connect: is conntrackd running? appropriate permissions?\n",
          }
        : { exitCode: 0, stdout: '', stderr: '' };
    }
    return { exitCode: 127, stdout: '', stderr: `unexpected ${cmd}` };
  }

  private birdc(args: readonly string[]): ExecResult {
    if (this.birdDown)
      return {
        exitCode: 1,
        stdout: '',
        stderr: 'Unable to connect to server control socket (x): No such file or directory\n',
      };
    const ready = 'BIRD 2.0.12 ready.\n';
    if (args[0] === 'show' && args[1] === 'protocols') {
      const rows = [...this.protocols].map(
        ([n, p]) => `${n.padEnd(10)} ${p.proto.padEnd(10)} ---        ${p.state.padEnd(6)} 05:49:27.830  ${p.info}`,
      );
      return {
        exitCode: 0,
        stdout: `${ready}Name       Proto      Table      State  Since         Info\n${rows.join('\n')}\n`,
        stderr: '',
      };
    }
    const p = this.protocols.get(args[1] ?? '');
    if ((args[0] === 'enable' || args[0] === 'disable') && p !== undefined) {
      p.state = args[0] === 'enable' ? 'up' : 'down';
      return { exitCode: 0, stdout: `${ready}${args[1]}: ${args[0]}d\n`, stderr: '' };
    }
    return { exitCode: 1, stdout: `${ready}syntax error, unexpected CF_SYM_UNDEFINED\n`, stderr: '' };
  }
}
