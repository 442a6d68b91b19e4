// src/iptables has no import cycle (type-only imports included: a cycle of types is still two files that need each
// other): the import stage reads text, then recognises recipes, then writes a config, each file below the next.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fixturesDir } from './support.js';

const ROOT = join(dirname(fixturesDir()), 'src', 'iptables');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

// The files of src/iptables each file imports (relative specifiers, .js written for the .ts file).
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(ROOT)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\b[^;]*?from '(\.[^']+)\.js';/gms)]
      .map((m) => resolve(dirname(file), `${m[1]!}.ts`))
      .filter((d) => d.startsWith(ROOT));
    g.set(file, deps);
  }
  return g;
}

// The first cycle found by a depth-first walk, as a list of files, or undefined.
function findCycle(g: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | undefined => {
    if (state.get(f) === 'done') return undefined;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const d of g.get(f) ?? []) {
      const c = visit(d);
      if (c !== undefined) return c;
    }
    stack.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of g.keys()) {
    const c = visit(f);
    if (c !== undefined) return c;
  }
  return undefined;
}

test('no import cycle in src/iptables', (t) => {
  const g = graph();
  t.true(g.size >= 10, `found ${g.size} files under ${ROOT}`);
  t.true(
    [...g.values()].some((deps) => deps.length > 0),
    'the import scan sees imports',
  );
  const cycle = findCycle(g);
  t.is(cycle?.map((f) => relative(ROOT, f)).join(' -> '), undefined);
});

test('the cycle finder finds a cycle', (t) => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
  ]);
  t.deepEqual(findCycle(g), ['a', 'b', 'c', 'a']);
});
