// Three network namespaces (client -> lb -> backend) joined by veth pairs, with no link to the
// host's network, created for one test and always deleted afterwards.
import { threadId } from 'node:worker_threads';
import { execa } from 'execa';
import { assertAllowed, backendAddresses, clientAddresses } from './addresses.js';
import { trackNamespace, untrackNamespace } from './cleanup.js';
import { reach } from './client.js';
import { SYSTEM_ENV } from './system-path.js';

// Outcome of a command run in a namespace.
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

// Options of Topology.exec; reject defaults to true (throw with stderr on failure), timeout to 30 s.
export interface ExecOptions {
  input?: string;
  reject?: boolean;
  timeoutMs?: number;
}

// A live test topology. Interfaces: client `veth0` <-> lb `lbc0`; lb `lbb0` <-> backend `veth0`.
// The backend namespace also treats all of 198.18.0.0/15 as local (route on lo), and the lb routes
// that range to it, for tests that need many backend addresses.
export interface Topology {
  prefix: string;
  client: string;
  lb: string;
  backend: string;
  clientV4: string[];
  clientV6: string[];
  backendV4: string[];
  backendV6: string[];
  vip4: '203.0.113.1';
  vip6: '2001:db8:1::1';
  lbClientIf: 'lbc0';
  lbBackendIf: 'lbb0';
  // Runs argv in namespace `ns` (a namespace name or 'client' | 'lb' | 'backend').
  exec(ns: string, cmd: string[], opts?: ExecOptions): Promise<ExecResult>;
  // Loads `script` with `nft -f -` in the lb namespace; throws with nft's stderr on failure.
  nft(script: string): Promise<ExecResult>;
  // Registers work to do before the namespaces are deleted (run in reverse order).
  defer(fn: () => Promise<void>): void;
}

// Sizes of the topology; extra lb addresses (e.g. more VIPs) go on the client-side interface.
export interface TopologyOptions {
  backends4?: number;
  backends6?: number;
  clients?: number;
  lbExtraV4?: string[];
  lbExtraV6?: string[];
}

const PREFIX = 'nftlbt-';
// Worker threads share a pid, so they need their own tag to keep prefixes unique.
const TAG = threadId === 0 ? '' : `t${threadId}_`;
let counter = 0;

// Runs a program with the harness's PATH (throws with its stderr on failure unless reject is false).
export async function run(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 30000,
    env: SYSTEM_ENV,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
  });
  const result = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  if (r.failed && opts.reject !== false) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 30000} ms` : `exit ${result.exitCode}`;
    throw new Error(`${file} ${args.join(' ')} failed (${why}): ${result.stderr.trim() || r.message}`);
  }
  return result;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Deletes the namespaces and checks that they are gone (untracking them).
export async function deleteNamespaces(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  // -force: keep going after a failed line, so one missing namespace does not leave the others.
  await run('ip', ['-force', '-b', '-'], { input: names.map((n) => `netns del ${n}\n`).join(''), reject: false });
  const left = (await listNamespaces()).filter((n) => names.includes(n));
  for (const n of names) if (!left.includes(n)) untrackNamespace(n);
  if (left.length > 0) throw new Error(`could not delete namespaces: ${left.join(', ')}`);
}

async function listNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.length > 0);
}

// Deletes `nftlbt-<pid>-...` namespaces left behind by harness processes that no longer run.
export async function sweepLeftovers(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((n) => {
    const m = /^nftlbt-(\d+)-/.exec(n);
    return m?.[1] !== undefined && Number(m[1]) !== process.pid && !isAlive(Number(m[1]));
  });
  await deleteNamespaces(stale);
  return stale;
}

let available: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

// Whether this process can build topologies: root, `ip netns`, nf_tables NAT inside a namespace.
export function kernelAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  available ??= (async () => {
    if (process.getuid?.() !== 0) return { ok: false as const, reason: 'not running as root' };
    try {
      const v = await run('nft', ['--version']);
      // Check the output too: a wrong `nft` on PATH (see system-path.ts) exits 0 as well.
      if (!v.stdout.startsWith('nftables')) throw new Error(`unexpected output ${JSON.stringify(v.stdout)}`);
    } catch (e) {
      return { ok: false as const, reason: `nft --version failed: ${(e as Error).message}` };
    }
    const probe = `${PREFIX}${process.pid}-${TAG}probe`;
    trackNamespace(probe);
    try {
      await run('ip', ['netns', 'add', probe]);
      await run('ip', ['netns', 'exec', probe, 'nft', '-f', '-'], {
        input:
          'table inet nftlbt_probe {\n chain c {\n  type nat hook prerouting priority dstnat; policy accept;\n }\n}\n',
      });
      return { ok: true as const };
    } catch (e) {
      return { ok: false as const, reason: (e as Error).message };
    } finally {
      await deleteNamespaces([probe]).catch(() => undefined);
    }
  })();
  return available;
}

function batch(lines: string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}

// A prefix of namespace names unique to this process, worker thread and topology: `nftlbt-<pid>-[t<thread>_]<n>-`.
export function newPrefix(): string {
  return `${PREFIX}${process.pid}-${TAG}${counter++}-`;
}

/** The namespaces of one topology while it lives: commands confined to them, and work to do before they go. */
export interface Namespaces {
  // Runs argv in one of the namespaces (its full name or its short name).
  exec(ns: string, cmd: string[], o?: ExecOptions): Promise<ExecResult>;
  // Runs `ip -n NS -b -` with these lines.
  ip(ns: string, lines: string[]): Promise<ExecResult>;
  // Registers work to do before the namespaces are deleted (run newest first).
  defer(fn: () => Promise<void>): void;
}

// Creates the namespaces `names` (short name -> full name), runs fn, then runs the deferred work and deletes the
// namespaces, also when fn fails. Teardown errors never hide fn's own error, nor pass silently.
export async function withNamespaces<T>(
  prefix: string,
  names: Readonly<Record<string, string>>,
  fn: (n: Namespaces) => Promise<T>,
): Promise<T> {
  await sweepLeftovers();
  const all = Object.values(names);
  const deferred: (() => Promise<void>)[] = [];
  const resolveNs = (ns: string): string => {
    const name = names[ns] ?? ns;
    // Never run anything outside our own namespaces (that would touch the host).
    if (!all.includes(name)) throw new Error(`${ns} is not a namespace of topology ${prefix}`);
    return name;
  };
  const n: Namespaces = {
    exec: (ns, cmd, o) => run('ip', ['netns', 'exec', resolveNs(ns), ...cmd], o),
    ip: (ns, lines) => run('ip', ['-n', resolveNs(ns), '-b', '-'], { input: batch(lines) }),
    defer: (f) => void deferred.push(f),
  };
  const errors: unknown[] = [];
  let result: T;
  try {
    for (const ns of all) trackNamespace(ns);
    await run('ip', ['-b', '-'], { input: batch(all.map((ns) => `netns add ${ns}`)) });
    result = await fn(n);
  } finally {
    for (const f of deferred.reverse()) await f().catch((e: unknown) => errors.push(e));
    await deleteNamespaces(all).catch((e: unknown) => errors.push(e));
  }
  if (errors.length > 0) throw new AggregateError(errors, `topology ${prefix} teardown failed`);
  return result;
}

// Creates the namespaces, runs fn, then stops deferred children and deletes the namespaces.
export async function withTopology<T>(opts: TopologyOptions, fn: (topo: Topology) => Promise<T>): Promise<T> {
  const clients = clientAddresses(opts.clients ?? 40);
  const backends = backendAddresses(opts.backends4 ?? 4, opts.backends6 ?? 4);
  const extra4 = (opts.lbExtraV4 ?? []).map(assertAllowed);
  const extra6 = (opts.lbExtraV6 ?? []).map(assertAllowed);
  const prefix = newPrefix();
  const names = { client: `${prefix}client`, lb: `${prefix}lb`, backend: `${prefix}backend` };
  return withNamespaces(prefix, names, async ({ exec, ip, defer }) => {
    const topo: Topology = {
      prefix,
      ...names,
      clientV4: clients.v4,
      clientV6: clients.v6,
      backendV4: backends.v4,
      backendV6: backends.v6,
      vip4: '203.0.113.1',
      vip6: '2001:db8:1::1',
      lbClientIf: 'lbc0',
      lbBackendIf: 'lbb0',
      exec,
      nft: (script) => exec(names.lb, ['nft', '-f', '-'], { input: script }),
      defer,
    };
    // The veth peers are created inside the namespaces, so the host never sees an interface.
    await ip(names.client, [
      'link set lo up',
      `link add veth0 type veth peer name lbc0 netns ${names.lb}`,
      'link set veth0 up',
      ...clients.v4.map((a) => `addr add ${a}/24 dev veth0`),
      ...clients.v6.map((a) => `addr add ${a}/64 dev veth0 nodad`),
      'route add default via 203.0.113.1',
      'route add default via 2001:db8:1::1',
    ]);
    const b4 = backends.v4[0];
    const b6 = backends.v6[0];
    await ip(names.backend, [
      'link set lo up',
      `link add veth0 type veth peer name lbb0 netns ${names.lb}`,
      'link set veth0 up',
      ...backends.v4.map((a) => `addr add ${a}/24 dev veth0`),
      ...backends.v6.map((a) => `addr add ${a}/64 dev veth0 nodad`),
      // A family without backend addresses has no on-link gateway, hence no route at all.
      ...(b4 ? ['route add local 198.18.0.0/15 dev lo', 'route add default via 198.51.100.1'] : []),
      ...(b6 ? ['route add default via 2001:db8:2::1'] : []),
    ]);
    await ip(names.lb, [
      'link set lo up',
      'link set lbc0 up',
      'link set lbb0 up',
      'addr add 203.0.113.1/24 dev lbc0',
      'addr add 2001:db8:1::1/64 dev lbc0 nodad',
      'addr add 198.51.100.1/24 dev lbb0',
      'addr add 2001:db8:2::1/64 dev lbb0 nodad',
      ...extra4.map((a) => `addr add ${a.includes('/') ? a : `${a}/32`} dev lbc0`),
      ...extra6.map((a) => `addr add ${a.includes('/') ? a : `${a}/128`} dev lbc0 nodad`),
      ...(b4 ? [`route add 198.18.0.0/15 via ${b4}`] : []),
    ]);
    // Forwarding only inside the lb namespace; the host's sysctls stay untouched.
    await exec(names.lb, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // Every hop, both directions, both families (TCP to a closed port: an RST proves the path).
    const [c4, c6] = [clients.v4[0] ?? '', clients.v6[0] ?? ''];
    const some = (...hosts: (string | false | undefined)[]): string[] => hosts.filter((h): h is string => !!h);
    await Promise.all([
      reach(topo, names.client, some('203.0.113.1', '2001:db8:1::1', b4, b6)),
      reach(topo, names.lb, some(c4, c6, b4, b6)),
      reach(topo, names.backend, some(b4 && '198.51.100.1', b6 && '2001:db8:2::1', b4 && c4, b6 && c6)),
    ]);
    return fn(topo);
  });
}
