// Ava glue for real-kernel tests: run only where namespaces and nf_tables are usable, fail in CI
// when they are not, and skip loudly (never silently) elsewhere.
import test, { type ExecutionContext } from 'ava';
import { kernelAvailable } from './topology.js';

// True when the kernel harness can run; otherwise fails the test (CI=true) or marks it skipped loudly.
export async function requireKernel(t: ExecutionContext): Promise<boolean> {
  const k = await kernelAvailable();
  if (k.ok) return true;
  if (process.env.CI === 'true') {
    t.fail(`kernel tests cannot run in CI: ${k.reason}`);
    return false;
  }
  console.error(`KERNEL TEST SKIPPED: ${k.reason} (${t.title})`);
  t.log(`KERNEL TEST SKIPPED: ${k.reason}`);
  t.pass();
  return false;
}

// Declares a serial ava test that needs the real kernel (see requireKernel).
export function kernelTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  test.serial(title, async (t) => {
    if (await requireKernel(t)) await fn(t);
  });
}
