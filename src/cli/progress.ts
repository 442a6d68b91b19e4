import type { Io } from './io.js';

/** How long work runs before its progress line appears. */
export const PROGRESS_DELAY_MS = 1000;
/** How often a shown line is redrawn (elapsed time, the latest step) while nothing else updates it. */
const REDRAW_MS = 250;

/** What the line needs from outside; tests pass a clock and a timer they drive. */
export interface ProgressClock {
  now(): number;
  every(ms: number, fn: () => void): { stop(): void };
}

const realClock: ProgressClock = {
  now: () => Date.now(),
  every: (ms, fn) => {
    const t = setInterval(fn, ms);
    t.unref();
    return { stop: () => clearInterval(t) };
  },
};

// One line on a terminal saying what a long command is doing (`nftlb: reading conntrack (1.4 s)`), redrawn in place
// and erased when the work is done. Only on a terminal: never on a pipe or a file, never with --json or -q (whoever
// reads those wants the output, not the line). Nothing is drawn before PROGRESS_DELAY_MS: a quick command shows none.
// Work that keeps the event loop busy (planning 10k services) cannot be interrupted by the timer, so step() draws too.
export class Progress {
  private text = '';
  private shown = false;
  private finished = false;
  private readonly start: number;
  private readonly timer: { stop(): void } | undefined;

  constructor(
    private readonly io: Io,
    readonly enabled: boolean,
    private readonly clock: ProgressClock = realClock,
  ) {
    this.start = clock.now();
    this.timer = enabled ? clock.every(REDRAW_MS, () => this.draw()) : undefined;
  }

  // The step now under way, as a short phrase (`planning 10000 services`).
  step(text: string): void {
    this.text = text;
    this.draw();
  }

  // Erases the line (before other output on stderr, and at the end) and stops redrawing it when `finished`.
  clear(finished = false): void {
    if (finished) this.timer?.stop();
    if (!this.shown) return;
    this.io.err('\r\x1b[K');
    this.shown = false;
  }

  // The work is over: the line is erased and never drawn again.
  done(): void {
    this.clear(true);
    this.finished = true;
  }

  // An Io whose stderr lines first erase the progress line, so a log line never lands in the middle of it.
  wrap(io: Io): Io {
    return {
      ...io,
      out: (t) => io.out(t),
      err: (t) => {
        this.clear();
        io.err(t);
      },
    };
  }

  private draw(): void {
    if (!this.enabled || this.finished || this.text === '') return;
    const elapsed = this.clock.now() - this.start;
    if (elapsed < PROGRESS_DELAY_MS) return;
    this.io.err(`\r\x1b[Knftlb: ${this.text} (${(elapsed / 1000).toFixed(1)} s)`);
    this.shown = true;
  }
}
