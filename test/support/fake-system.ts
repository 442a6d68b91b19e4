// The one fake of the host for unit and CLI tests: an nft that holds tables and runs scripts as transactions (all or
// nothing, refused on demand), on request an `nft -i` session, an in-memory flock(1), and a scriptable conntrack.
// Every call is recorded.
import { NftlbError } from '../../src/common/errors.js';
import type { ExecResult, Executor, Interactive, LineStream, Started } from '../../src/system/executor.js';
import { resolveHost, type Host } from '../../src/system/host.js';
import { NFPROTO } from '../../src/system/netlink-dump.js';
import { RULE_COUNTERS_PROGRAM } from '../../src/system/rule-counters.js';
import { SET_ELEMENTS_PROGRAM } from '../../src/system/set-elements.js';

/** One table the fake kernel holds: what nftlb reads back (comment, chains, sets), not its rules or elements. */
export interface FakeTable {
  comment: string | undefined;
  chains: Set<string>;
  sets: Set<string>;
  /** Declaration line (`type ...`/`typeof ...`) of the sets declared in table blocks, listed with them. */
  setTypes?: Map<string, string>;
  /** `set` or `map`, for the sets declared with a type line. */
  setKinds?: Map<string, string>;
  /** Comments of the chains declared with one in table blocks. */
  chainComments?: Map<string, string>;
}

/** One recorded call. */
export interface Call {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly input: string | undefined;
}

/** One script nft was given: checked (`-c`) or loaded, and whether it went through. */
export interface Transaction {
  readonly script: string;
  readonly check: boolean;
  readonly ok: boolean;
}

/** A conntrack event stream the test drives. */
export interface FakeStream {
  readonly args: readonly string[];
  onLine(line: string, from: 'stdout' | 'stderr'): void;
  exit(code: number, stderr?: string): void;
}

const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' });
const fail = (stderr: string, exitCode = 1): ExecResult => ({ exitCode, stdout: '', stderr });
const NOENT = 'Error: Could not process rule: No such file or directory';
const key = (family: string, name: string): string => `${family} ${name}`;

// A failing line as nft reports it: location, message, the line itself and a marker under it.
const located = (n: number, line: string, message = NOENT): string =>
  `/dev/stdin:${n}:1-${Math.max(1, line.length)}: ${message}\n${line}\n${'^'.repeat(Math.max(1, line.length))}\n`;

export class FakeSystem implements Executor {
  /** The kernel's tables by `family name`. */
  tables = new Map<string, FakeTable>();
  readonly calls: Call[] = [];
  readonly transactions: Transaction[] = [];
  /** nft refuses a script (checked or loaded) when this returns its stderr. */
  refuse: ((script: string, check: boolean) => string | undefined) | undefined;
  /** Programs missing from the fake PATH. */
  missing = new Set<string>();
  /** Lock files someone else holds. */
  heldLocks = new Set<string>();
  /** `nft -j list table` output by table key (`inet nftlb`); default: no objects. */
  json = new Map<string, string>();
  /** `conntrack -L` lines by family. */
  conntrack: { ipv4: string[]; ipv6: string[] } = { ipv4: [], ipv6: [] };
  /** The filters of each `conntrack -D`, as one string (`-f ipv4 -p tcp --orig-dst ...`). */
  readonly conntrackDeleted: string[] = [];
  /** Running `conntrack -E` streams, newest last. */
  readonly streams: FakeStream[] = [];
  /** The kernel's ruleset generation: one more for each committed transaction (what perl's netlink request reads). */
  generation = 1;
  /** perl cannot read the generation (as without netlink). */
  perlDown = false;
  /** perl's dump of a table's rule counters fails (src/system/rule-counters.ts), as for a reply it cannot read. */
  countersDown = false;
  /** Outputs of other programs by `cmd args`: e.g. `flock --version`. */
  outputs = new Map<string, ExecResult>();
  /** `nft -i` sessions (Executor.interact) can be started; off: interact fails as for a missing program. */
  sessions = false;
  /** The transactions that came through a session, and whether an apply lock was held (taken with flock) then. */
  readonly sessionTransactions: { script: string; ok: boolean; locked: boolean }[] = [];
  /** Apply locks taken (through `start`) and not released yet. */
  locksHeld = 0;

  // A Host over this fake: the programs under their usual names, files under `dir`.
  host(dir: string, o: { lockFile?: string; stateDir?: string } = {}): Host {
    return resolveHost(this, {}, { lockFile: o.lockFile ?? `${dir}/run/apply.lock`, stateDir: o.stateDir ?? dir });
  }

  // The scripts nft loaded (not checked), in order; only those that went through unless `all`.
  loads(all = false): string[] {
    return this.transactions.filter((x) => !x.check && (all || x.ok)).map((x) => x.script);
  }

  // A table as nft lists it with -t (no elements): comment and chain names.
  listing(family: string, name: string): string | undefined {
    const t = this.tables.get(key(family, name));
    if (t === undefined) return undefined;
    const comment = t.comment === undefined ? '' : `\tcomment "${t.comment}"\n`;
    // Sets declared with a type line are listed with it (what a reload that keeps persistence entries reads).
    const sets = [...t.sets]
      .filter((n) => t.setTypes?.has(n))
      .map((n) => `\t${t.setKinds?.get(n) ?? 'map'} ${n} {\n\t\t${t.setTypes!.get(n)}\n\t}\n`)
      .join('');
    const chain = (c: string): string => {
      const cc = t.chainComments?.get(c);
      return `\tchain ${c} {\n${cc === undefined ? '' : `\t\tcomment "${cc}"\n`}\t}\n`;
    };
    return `table ${family} ${name} {\n${comment}${sets}${[...t.chains].map(chain).join('')}}\n`;
  }

  // What `nft -t list chains|sets|maps F` prints for the families a listing script names: each table of the family
  // with its chains (and their comments) and its declared sets, never the table comment.
  objectListing(script: string): string {
    const families = new Set([...script.matchAll(/^list \S+ (\S+)$/gm)].map((m) => m[1]!));
    let out = '';
    for (const k of this.tables.keys()) {
      const [family, name] = k.split(' ') as [string, string];
      if (!families.has(family)) continue;
      out += this.listing(family, name)!.replace(/^\tcomment .*\n/m, '');
    }
    return out;
  }

  // Deletes a table as another program would (`nft delete table`): a transaction, so the generation moves.
  dropTable(family: string, name: string): void {
    this.generation++;
    this.tables.delete(key(family, name));
  }

  // Puts a table in place as another program would (`nft -f` of someone else's script).
  setTable(family: string, name: string, t: Partial<FakeTable> = {}): void {
    this.generation++;
    this.tables.set(key(family, name), {
      comment: t.comment,
      chains: t.chains ?? new Set(),
      sets: t.sets ?? new Set(),
    });
  }

  async run(cmd: string, args: readonly string[], input?: string): Promise<ExecResult> {
    this.calls.push({ cmd, args: [...args], input });
    if (this.missing.has(cmd)) throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    const a = args.join(' ');
    const canned = this.outputs.get(`${cmd} ${a}`);
    if (canned !== undefined) return canned;
    // Programs by name, wherever they are ($NFTLB_NFT=/opt/nft is nft).
    const name = cmd.slice(cmd.lastIndexOf('/') + 1);
    if (name === 'nft') return this.nft(args, input ?? '');
    if (name === 'perl') {
      if (this.perlDown) return fail('perl: cannot open a netlink socket', 2);
      if (args[1] === RULE_COUNTERS_PROGRAM) return this.ruleCounters(args[2]!, args[3]!);
      // The fake holds no element bytes: a dump of set elements fails, and status lists the table with nft instead.
      if (args[1] === SET_ELEMENTS_PROGRAM) return fail('', 7);
      return ok(`${this.generation}\n`);
    }
    if (name === 'conntrack') return this.conntrackRun(args);
    return fail(`fake system: unexpected ${cmd} ${a}`, 127);
  }

  // The counters program's output for a table, from the rules of its JSON listing (`json`): one line per counter among a
  // rule's own expressions, then `done`; a table without a listing has no rules.
  private ruleCounters(family: string, table: string): ExecResult {
    if (this.countersDown) return fail('', 7);
    const name = Object.entries(NFPROTO).find(([, n]) => String(n) === family)?.[0] ?? '?';
    const items = (JSON.parse(this.json.get(key(name, table)) ?? '{"nftables": []}') as { nftables: unknown[] })
      .nftables;
    let out = '';
    for (const item of items) {
      const rule = (item as { rule?: { chain?: string; expr?: unknown[] } }).rule;
      for (const x of rule?.expr ?? []) {
        const c = (x as { counter?: { packets: number; bytes: number } }).counter;
        if (c !== undefined) out += `${rule!.chain!}\t${c.packets}\t${c.bytes}\n`;
      }
    }
    return ok(`${out}done\n`);
  }

  async start(cmd: string, args: readonly string[]): Promise<Started> {
    this.calls.push({ cmd, args: [...args], input: undefined });
    if (this.missing.has(cmd)) throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    const file = args[args.length - 2] ?? '';
    const busy = this.heldLocks.has(file);
    let line: string | null = null;
    if (!busy) this.locksHeld++;
    return {
      write: (text) => void (busy ? undefined : (line = text.split('\n')[0] ?? null)),
      firstLine: async () => line,
      end: async () => {
        if (busy) return fail('', 75);
        this.locksHeld--;
        return ok();
      },
    };
  }

  // `nft -i` when `sessions` is on: each line is one transaction (its commands joined by ` ; `), and a marker line
  // (`nftlb-sync-N`) is answered as nft answers an invalid statement: a syntax error, the line, a caret line.
  async interact(
    cmd: string,
    args: readonly string[],
    onLine: (line: string, from: 'stdout' | 'stderr') => void,
  ): Promise<Interactive> {
    const name = cmd.slice(cmd.lastIndexOf('/') + 1);
    if (!this.sessions || name !== 'nft' || args.join(' ') !== '-i')
      throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    this.calls.push({ cmd, args: [...args], input: undefined });
    let exit: (code: number) => void = () => undefined;
    const exited = new Promise<number>((done) => (exit = done));
    let open = true;
    return {
      write: (text) => {
        if (!open) return;
        const out: string[] = [];
        for (const line of text.split('\n')) {
          if (line === '') continue;
          if (/^nftlb-sync-\d+$/.test(line)) {
            out.push('Error: syntax error, unexpected newline', line, '^'.repeat(line.length));
            continue;
          }
          const script = `${line.split(' ; ').join('\n')}\n`;
          const r = this.transaction(script, false);
          this.sessionTransactions.push({ script, ok: r.exitCode === 0, locked: this.locksHeld > 0 });
          out.push(...r.stderr.split('\n').filter((l) => l !== ''));
        }
        setImmediate(() => out.forEach((l) => onLine(l, 'stderr')));
      },
      exited,
      end: async () => {
        open = false;
        exit(0);
        return exited;
      },
    };
  }

  async stream(
    cmd: string,
    args: readonly string[],
    onLine: (line: string, from: 'stdout' | 'stderr') => void,
  ): Promise<LineStream> {
    this.calls.push({ cmd, args: [...args], input: undefined });
    if (this.missing.has(cmd)) throw new NftlbError('tool-missing', `${cmd} is not installed or not on PATH`);
    let exit!: (r: ExecResult) => void;
    const exited = new Promise<ExecResult>((done) => (exit = done));
    this.streams.push({ args: [...args], onLine, exit: (code, stderr = '') => exit(fail(stderr, code)) });
    return { exited, end: async () => (exit(ok()), exited) };
  }

  private conntrackRun(args: readonly string[]): ExecResult {
    if (args[0] === '-L')
      return ok(args.includes('ipv6') ? this.conntrack.ipv6.join('\n') : this.conntrack.ipv4.join('\n'));
    if (args[0] === '-D') {
      this.conntrackDeleted.push(args.slice(1).join(' '));
      return fail('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.');
    }
    return fail(`fake conntrack: unexpected ${args.join(' ')}`);
  }

  private nft(args: readonly string[], input: string): ExecResult {
    const a = args.join(' ');
    if (a === '--version') return ok('nftables v1.0.6 (Lester Gooch #5)\n');
    const list = /^(-t |-j |-j -t )?list table (\S+) (\S+)$/.exec(a);
    if (list !== null) {
      const listing = this.listing(list[2]!, list[3]!);
      if (listing === undefined) return fail(`${NOENT}\nlist table ${list[2]} ${list[3]}\n`);
      // JSON as given (a terse listing of the same table: the tests' JSON holds what they need of either).
      return ok(
        list[1]?.startsWith('-j') === true ? (this.json.get(key(list[2]!, list[3]!)) ?? '{"nftables": []}') : listing,
      );
    }
    if (a === '-c -f -' || a === '-f -') return this.transaction(input, a.startsWith('-c'));
    if (a === '-t -f -' && /^(list (chains|sets|maps) \S+\n?)+$/.test(input.replace(/\n\n/g, '\n')))
      return ok(this.objectListing(input));
    return fail(`fake nft: unexpected arguments ${a}`);
  }

  // Runs a script against a copy of the tables; commits the copy unless checking or a line fails.
  private transaction(script: string, check: boolean): ExecResult {
    const refused = this.refuse?.(script, check);
    if (refused !== undefined) {
      this.transactions.push({ script, check, ok: false });
      return fail(refused);
    }
    const tables = new Map(
      [...this.tables].map(([k, t]) => [
        k,
        {
          ...t,
          chains: new Set(t.chains),
          sets: new Set(t.sets),
          setTypes: new Map(t.setTypes),
          setKinds: new Map(t.setKinds),
          chainComments: new Map(t.chainComments),
        },
      ]),
    );
    const error = runScript(tables, script);
    this.transactions.push({ script, check, ok: error === undefined });
    if (error !== undefined) return fail(error);
    if (!check) {
      this.tables = tables;
      this.generation++;
    }
    return ok();
  }
}

// Interprets the commands nftlb writes (block tables, add/create/flush/delete of tables, chains, sets and elements,
// rules); returns nft's error for the first line that refers to something missing, or undefined.
function runScript(tables: Map<string, FakeTable>, script: string): string | undefined {
  const lines = script.split('\n');
  let block: FakeTable | undefined;
  // As the kernel: a table block declares the comment of a table it creates, never of one that exists.
  let created = false;
  let inner: { kind: string; name: string; fresh: boolean } | undefined;
  let depth = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const text = line.trim();
    if (depth > 0) {
      if (depth === 1 && block !== undefined) {
        const comment = /^comment "(.*)"$/.exec(text);
        if (comment !== null && created) block.comment = comment[1];
        const obj = /^(chain|map|set) (\S+) \{$/.exec(text);
        if (obj !== null) (obj[1] === 'chain' ? block.chains : block.sets).add(obj[2]!);
        inner =
          obj === null ? undefined : { kind: obj[1]!, name: obj[2]!, fresh: !(block.setTypes?.has(obj[2]!) ?? false) };
      } else if (depth === 2 && block !== undefined && inner !== undefined) {
        if (inner.kind !== 'chain' && /^typeo?f? /.test(text) && !block.setTypes?.has(inner.name)) {
          (block.setTypes ??= new Map()).set(inner.name, text);
          (block.setKinds ??= new Map()).set(inner.name, inner.kind);
        }
        // A set's flags and size, listed after its type as nft lists them (a reload in place compares them).
        else if (
          inner.kind !== 'chain' &&
          inner.fresh &&
          /^(flags \S+|size [0-9]+)$/.test(text) &&
          block.setTypes?.has(inner.name)
        )
          block.setTypes.set(inner.name, `${block.setTypes.get(inner.name)!}\n\t\t${text}`);
        const comment = /^comment "(.*)"$/.exec(text);
        if (inner.kind === 'chain' && comment !== null)
          (block.chainComments ??= new Map()).set(inner.name, comment[1]!);
      }
      depth += opens(text);
      continue;
    }
    if (text === '' || text.startsWith('#')) continue;
    const tableBlock = /^table (\S+) (\S+) \{(\})?$/.exec(text);
    block = undefined;
    if (tableBlock !== null) {
      const k = key(tableBlock[1]!, tableBlock[2]!);
      created = !tables.has(k);
      if (created) tables.set(k, { comment: undefined, chains: new Set(), sets: new Set() });
      block = tables.get(k)!;
      if (tableBlock[3] === undefined) depth = 1;
      continue;
    }
    const m = /^(add|create|flush|delete) (table|chain|map|set|element|rule) (\S+) (\S+)(?: (\S+))?/.exec(text);
    if (m === null) return located(i + 1, line, 'Error: syntax error (fake nft)');
    const [, verb, what, family, name, obj] = m as unknown as [string, string, string, string, string, string?];
    const k = key(family, name);
    const t = tables.get(k);
    if (what === 'table') {
      if (verb === 'add' || verb === 'create') {
        if (t === undefined) tables.set(k, { comment: undefined, chains: new Set(), sets: new Set() });
        else if (verb === 'create') return located(i + 1, line, 'Error: Could not process rule: File exists');
      } else if (t === undefined) return located(i + 1, line);
      else if (verb === 'delete') tables.delete(k);
      else t.chains = new Set([...t.chains]);
      continue;
    }
    if (t === undefined || obj === undefined) return located(i + 1, line);
    if (what === 'chain') {
      if (verb === 'add' || verb === 'create') t.chains.add(obj);
      else if (!t.chains.has(obj)) return located(i + 1, line);
      else if (verb === 'delete') {
        t.chains.delete(obj);
        t.chainComments?.delete(obj);
      }
    } else if (what === 'map' || what === 'set') {
      if (verb === 'add' || verb === 'create') t.sets.add(obj);
      else if (!t.sets.has(obj)) return located(i + 1, line);
      else if (verb === 'delete') {
        t.sets.delete(obj);
        t.setTypes?.delete(obj);
        t.setKinds?.delete(obj);
      }
    } else if (what === 'element') {
      if (!t.sets.has(obj)) return located(i + 1, line);
    } else if (what === 'rule' && !t.chains.has(obj)) return located(i + 1, line);
    depth = opens(text);
  }
  return depth === 0 ? undefined : 'Error: syntax error, unexpected end of file (fake nft)';
}

// Braces a line opens minus those it closes.
function opens(text: string): number {
  let n = 0;
  for (const c of text) n += c === '{' ? 1 : c === '}' ? -1 : 0;
  return n;
}

/** A fake system set up for a test: nftlb's table in the kernel, failures, missing programs, held locks. */
export interface FakeOptions {
  /** A table in the kernel (family inet): nftlb's, with the comment nftlb writes, or one without (fingerprint null). */
  live?: { table?: string; fingerprint: string | null; chains?: string[] };
  /** stderr of a failing `nft -c -f -`, and of a failing `nft -f -`. */
  checkError?: string;
  loadError?: string;
  missing?: readonly string[];
  heldLocks?: Iterable<string>;
  /** `nft -j list table inet <table>` output. */
  json?: string;
  /** `conntrack -L -f ipv4` output. */
  conntrack?: string;
}

// Builds a FakeSystem from options.
export function fakeSystem(o: FakeOptions = {}): FakeSystem {
  const f = new FakeSystem();
  const table = o.live?.table ?? 'nftlb';
  if (o.live !== undefined)
    f.setTable('inet', table, {
      comment: o.live.fingerprint === null ? undefined : `nftlb fingerprint ${o.live.fingerprint}`,
      chains: new Set(o.live.chains ?? []),
    });
  if (o.checkError !== undefined || o.loadError !== undefined)
    f.refuse = (_script, check) => (check ? o.checkError : o.loadError);
  for (const m of o.missing ?? []) f.missing.add(m);
  for (const l of o.heldLocks ?? []) f.heldLocks.add(l);
  if (o.json !== undefined) f.json.set(`inet ${table}`, o.json);
  if (o.conntrack !== undefined) f.conntrack.ipv4 = o.conntrack.split('\n');
  return f;
}
