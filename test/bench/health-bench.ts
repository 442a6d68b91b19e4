import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { systemExecutor, type Executor, type Started } from '../../src/system/executor.js';
import { checkConfig } from '../../src/config/read.js';
import { FRESH, type HealthRecord } from '../../src/health/machine.js';
import {
  emptyState,
  healthStateFile,
  pendingMark,
  writeHealthState,
  type HealthState,
} from '../../src/health/state-file.js';
import { SharedState } from '../../src/health/shared-state.js';
import { lockSession, type LockSession } from '../../src/system/lock-session.js';
import { resolveHost } from '../../src/system/host.js';
import { sync, type SyncCache, type SyncDeps, type SyncOutcome } from '../../src/health/sync.js';
import { nftSession, type NftSession } from '../../src/system/nft-session.js';
import type { Model } from '../../src/model/types.js';
import { backendKey, plan } from '../../src/plan/plan.js';
import { ms, table } from './format.js';
import { benchConfigJson } from './gen-config.js';
import { createNamespace, kernelUnavailable } from './netns.js';
import { benchOptions, countOption, sizesOption } from './args.js';

// `node dist/test/bench/health-bench.js [--sizes 1000,10000] [--runs 3]`: loads a table of N services (4 backends, tcp
// checks, every backend with an `up` record as after a while of `health --watch`) in a private namespace, then takes one
// backend (the first, a middle one, then all four at once: the pool empties) down and back up, RUNS times each at the
// first, middle and last service, and prints how long one membership change takes in sync(): as `health --watch` calls
// it (with the plan it keeps in memory) and as `health --once` does (without), split into the nft transaction, the lock
// and the rest (JavaScript). --watch takes the lock through its persistent holder (src/system/lock-session.ts),
// refreshes the shared files and sends its updates through one persistent `nft -i` session; --once takes the lock with
// flock(1) and sends `nft -f`. The first backend of a pool leaves only chain commands (the others stay consecutive
// ids); a middle one adds slot elements going down and empties their bucket coming back. Also: a round with
// no membership change (the guard check only) and writing the state file (each --watch round does). Sizes side by
// side, so a flat cost shows as equal columns. A benchmark, not a test: it asserts nothing but the kind of update.

const TARGET_MS = 10;

function args(argv: readonly string[]): { sizes: number[]; runs: number } {
  const o = benchOptions(argv, ['sizes', 'runs']);
  return { sizes: sizesOption(o.sizes, [1000, 10_000], 100_000), runs: countOption('runs', o.runs, 3, 50) };
}

function modelWithChecks(n: number): Model {
  const raw = JSON.parse(benchConfigJson(n)) as { table?: string; services: Record<string, unknown>[] };
  raw.table = 'hbench';
  for (const s of raw.services) s['health'] = { type: 'tcp' };
  const c = checkConfig('bench.json', JSON.stringify(raw));
  if (c.model === undefined) throw new Error(`bench config invalid: ${c.diagnostics[0]?.message ?? ''}`);
  return c.model;
}

/** Where the time of the calls through the executor went, since the last reset. */
interface Clock {
  nft: number;
  lock: number;
}

// Runs nft and conntrack inside the namespace; flock (the lock) on the host, where the lock file is. Adds up the wall
// time of nft runs and of taking and releasing the lock.
function inNamespace(ns: string, base: Executor, clock: Clock): Executor {
  const timed = async <T>(what: keyof Clock, p: () => Promise<T>): Promise<T> => {
    const a = performance.now();
    try {
      return await p();
    } finally {
      clock[what] += performance.now() - a;
    }
  };
  return {
    run: (cmd, a, input) =>
      cmd === 'nft'
        ? timed('nft', () => base.run('ip', ['netns', 'exec', ns, cmd, ...a], input))
        : cmd === 'conntrack'
          ? base.run('ip', ['netns', 'exec', ns, cmd, ...a], input)
          : base.run(cmd, a, input),
    // nft's session in the namespace; the lock's holder (perl) on the host, where the lock file is.
    interact: (cmd, a, onLine) =>
      cmd === 'nft' ? base.interact!('ip', ['netns', 'exec', ns, cmd, ...a], onLine) : base.interact!(cmd, a, onLine),
    start: async (cmd, a): Promise<Started> => {
      const s = await timed('lock', () => base.start!(cmd, a));
      return {
        write: (t) => s.write(t),
        firstLine: (to) => timed('lock', () => s.firstLine(to)),
        end: () => timed('lock', () => s.end()),
      };
    },
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const max = (xs: readonly number[]): number => Math.max(...xs);

/** One timed sync(). */
interface Sample {
  readonly total: number;
  readonly nft: number;
  readonly lock: number;
  /** The verdict the backend took. */
  readonly verdict?: 'down' | 'up';
}

type Figures = Map<string, string>;

async function measure(n: number, runs: number): Promise<Figures> {
  const model = modelWithChecks(n);
  const ns = createNamespace();
  const dir = mkdtempSync(join(tmpdir(), 'nftlb-hbench-'));
  const out: Figures = new Map();
  try {
    const clock: Clock = { nft: 0, lock: 0 };
    const exec = inNamespace(ns.name, systemExecutor(), clock);
    const plain: SyncDeps = {
      host: resolveHost(exec, {}, { lockFile: join(dir, 'apply.lock'), stateDir: dir }),
      lockWaitSeconds: 5,
    };
    // As `health --watch` runs it: the incremental updates through one persistent `nft -i` session.
    const session = nftSession(plain.host)!;
    // The holder of the apply lock that --watch keeps (src/system/lock-session.ts): taking and releasing it count as
    // lock time, as flock's start and end do for --once.
    const locks = lockSession(plain.host);
    const timedLock: LockSession = {
      acquire: async (w) => {
        const a = performance.now();
        try {
          const release = await locks.acquire(w);
          return async () => {
            const b = performance.now();
            try {
              await release();
            } finally {
              clock.lock += performance.now() - b;
            }
          };
        } finally {
          clock.lock += performance.now() - a;
        }
      },
      close: () => locks.close(),
    };
    // As the --watch loop calls sync(): under the lock, first taking what other processes changed in the shared files
    // (src/health/shared-state.ts), and marking its state file pending from the update to its write.
    const stateFile = healthStateFile(dir, 'hbench');
    const shared = new SharedState(stateFile, 'hbench', () => undefined, true);
    // Its transactions count as nft time, as nft -f runs do.
    const timedSession: NftSession = {
      run: async (script) => {
        const a = performance.now();
        try {
          return await session.run(script);
        } finally {
          clock.nft += performance.now() - a;
        }
      },
      close: () => session.close(),
    };
    const withSession: SyncDeps = {
      ...plain,
      session: timedSession,
      lock: timedLock,
      refresh: (st) => shared.refresh(st),
      pendingMark: pendingMark(stateFile),
    };
    const deps = plain;
    const p = plan(model);
    const up: HealthRecord = { ...FRESH, state: 'up' };
    const records: Record<string, HealthRecord> = {};
    for (const s of p.services) for (const b of s.backends) records[backendKey(s.name, b.endpoint)] = up;
    const t0 = performance.now();
    let last: SyncOutcome = await sync(deps, model, { ...emptyState('hbench'), backends: records });
    out.set('first full load (no state yet)', ms(performance.now() - t0));
    let state: HealthState = last.state;
    let cache: SyncCache | undefined = last.cache;

    const timedSync = async (next: HealthState, withCache: boolean, touched: string[]): Promise<Sample> => {
      clock.nft = 0;
      clock.lock = 0;
      const a = performance.now();
      last = withCache ? await sync(withSession, model, next, cache, touched) : await sync(deps, model, next);
      const total = performance.now() - a;
      state = last.state;
      cache = last.cache;
      return { total, nft: clock.nft, lock: clock.lock };
    };
    const report = (label: string, xs: readonly Sample[]): void => {
      out.set(
        `${label}: sync() median / max`,
        `${ms(median(xs.map((x) => x.total)))} / ${ms(max(xs.map((x) => x.total)))}`,
      );
      out.set(`${label}:   nft median`, ms(median(xs.map((x) => x.nft))));
      // Down and up need different commands (a middle backend up deletes slot elements, which makes nft 1.0.6 fetch
      // every chain), so they are shown apart too.
      const nftOf = (v: 'down' | 'up'): string => ms(median(xs.filter((x) => x.verdict === v).map((x) => x.nft)));
      out.set(`${label}:   nft median, down / up`, `${nftOf('down')} / ${nftOf('up')}`);
      out.set(`${label}:   lock median`, ms(median(xs.map((x) => x.lock))));
      out.set(`${label}:   rest (JS) median`, ms(median(xs.map((x) => x.total - x.nft - x.lock))));
    };

    for (const mode of ['watch', 'once'] as const) {
      for (const [which, js] of [
        ['first backend', [0]],
        ['middle backend', [1]],
        ['every backend (pool empties / refills)', [0, 1, 2, 3]],
      ] as const) {
        const samples: Sample[] = [];
        for (const idx of [0, Math.floor(n / 2), n - 1]) {
          const s = p.services[idx]!;
          const keys = js.map((j) => backendKey(s.name, s.backends[j]!.endpoint));
          for (let r = 0; r < runs; r++) {
            for (const verdict of ['down', 'up'] as const) {
              // What the --watch loop does before it calls sync(): merge this round's records (not timed); it passes
              // the keys with a transition since its last sync.
              const changed = Object.fromEntries(keys.map((k) => [k, { ...FRESH, state: verdict }]));
              const next: HealthState = { ...state, backends: { ...state.backends, ...changed } };
              samples.push({ ...(await timedSync(next, mode === 'watch', keys)), verdict });
              if (last.action !== 'incremental')
                throw new Error(`expected an incremental update, got ${last.action} (${last.why})`);
            }
          }
        }
        report(`${mode === 'watch' ? '--watch (cache)' : '--once (no cache)'}, ${which}`, samples);
      }
    }

    // A round without a membership change: sync() only checks the guard chain.
    const idle: Sample[] = [];
    for (let r = 0; r < runs * 2; r++) {
      idle.push(await timedSync({ ...state }, false, []));
      if (last.action !== 'none') throw new Error(`expected no update, got ${last.action} (${last.why})`);
    }
    out.set('--once, no change (guard check only): sync() median', ms(median(idle.map((x) => x.total))));

    const writes: number[] = [];
    for (let r = 0; r < runs; r++) {
      const a = performance.now();
      await writeHealthState(join(dir, 'health-hbench.json'), state);
      writes.push(performance.now() - a);
    }
    out.set('state file write (4 records per service) median', ms(median(writes)));
    await session.close();
    await locks.close();
    return out;
  } finally {
    ns.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The backend-change table of `make bench`: the rows of measure() at each size, side by side (ms).
export async function healthSection(
  say: (s?: string) => void,
  sizes: readonly number[],
  runs: number,
): Promise<{ header: string[]; rows: string[][] }> {
  say();
  say(
    `== One backend change (down or up) at N services x 4 backends, ${runs} runs x 3 places x down/up, ms (target: --watch sync() <= ${TARGET_MS} ms, flat) ==`,
  );
  const figures: Figures[] = [];
  for (const n of sizes) figures.push(await measure(n, runs));
  const rows = [...figures[0]!.keys()].map((k) => [k, ...figures.map((f) => f.get(k) ?? 'n/a')]);
  const header = ['', ...sizes.map((n) => `${n} services`)];
  say(table(header, rows));
  say(
    '--watch: under the lock its perl holder takes, the shared files refreshed, through its persistent nft -i session; --once: nft -f under a flock(1) lock, planning every service.',
  );
  return { header, rows };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const why = kernelUnavailable();
  if (why !== undefined) {
    process.stderr.write(`health bench: kernel part unavailable: ${why}\n`);
    process.exit(1);
  }
  const o = args(process.argv.slice(2));
  await healthSection((x = '') => process.stdout.write(`${x}\n`), o.sizes, o.runs);
}
