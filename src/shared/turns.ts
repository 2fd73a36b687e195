/**
 * Work in bounded slices of the event loop's turns (issue 11). A burst — thousands of
 * deliveries after a publish, thousands of handshakes in a reconnect storm — would otherwise run
 * in one piece, and every other request would wait for all of it. Tasks queued here run in
 * order, `slice` at a time; slices follow each other within one turn (as microtasks) for up to
 * `budgetMs`, then the rest waits for the next turn (setImmediate), so I/O, timers and other
 * requests get a turn at least every few milliseconds. The total work is unchanged; it is spread.
 */
export interface Task {
  run(): void;
}

const NOOP: Task = { run: () => undefined };

export class TurnScheduler {
  private ready: Task[] = [];
  private head = 0;
  private draining = false;
  private turnStarted = 0;

  /**
   * @param budgetMs how long slices may follow each other within one turn
   * @param slice tasks run between two looks at the clock (smaller for heavier tasks)
   */
  constructor(
    private readonly budgetMs: number,
    private readonly slice = 64,
  ) {}

  /** Tasks waiting for their turn. */
  get pending(): number {
    return this.ready.length - this.head;
  }

  schedule(task: Task): void {
    this.ready.push(task);
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.startTurn);
    }
  }

  /** A promise that resolves in its turn: `await scheduler.turn()` paces an async path. */
  turn(): Promise<void> {
    return new Promise((resolve) => this.schedule({ run: resolve }));
  }

  /** Drops what waits (shutdown). */
  clear(): void {
    this.ready = [];
    this.head = 0;
  }

  private readonly startTurn = (): void => {
    this.turnStarted = performance.now();
    this.drainSlice();
  };

  private readonly drainSlice = (): void => {
    const ready = this.ready;
    const end = Math.min(ready.length, this.head + this.slice);
    for (; this.head < end; this.head++) {
      const task = ready[this.head]!;
      ready[this.head] = NOOP; // release it
      try {
        task.run();
      } catch {
        // One task's failure must not stall the others (its owner handles its own errors).
      }
    }
    if (this.head >= this.ready.length) {
      this.ready = [];
      this.head = 0;
      this.draining = false;
      return;
    }
    if (this.head > 4096 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    if (performance.now() - this.turnStarted < this.budgetMs) queueMicrotask(this.drainSlice);
    else setImmediate(this.startTurn);
  };
}

/**
 * The work new and closing sockets bring (handshakes, each message's start, subscription starts,
 * cleanup after a close), in one line and one budget: in a reconnect storm they all come at
 * once, and separate budgets would add up to one long turn. Deliveries have their own.
 */
export const socketWork = new TurnScheduler(4, 8);
