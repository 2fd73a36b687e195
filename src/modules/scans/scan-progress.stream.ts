import type { PubSub } from "../../platform/pubsub/pubsub.js";
import { PUSH, type PushControl, type PushSource, type PushTarget } from "../../shared/push-source.js";
import { type Task, TurnScheduler } from "../../shared/turns.js";
import type { ScanEventMessage } from "./scan-events.js";
import { isTerminal, type ScanProgress } from "./scan.type.js";

/**
 * The event stream behind `scanProgress` and `myScans`, built for slow clients and lossy
 * transports:
 * - it listens BEFORE reading the current state, so nothing between the read and the first
 *   event is lost; the state read is pushed like any event;
 * - per scan, events are ordered and deduplicated by sequence number (older or equal: dropped);
 * - per scan, only the latest undelivered event is kept (latest wins): a client that reads
 *   slowly gets fewer, newer events, never an unbounded buffer. A terminal event is the highest
 *   sequence number of its scan, so it is never dropped;
 * - after the pub/sub transport reconnects (events may have been missed) it re-reads the
 *   state from PostgreSQL, so a missed event is never a missed outcome.
 * It is read either as an async iterator or, by the WebSocket fan-out, in push mode
 * (shared/push-source.ts): the same ordering, coalescing and completion, without a promise per
 * event.
 */
export class ScanEventStream implements AsyncIterableIterator<ScanProgress>, PushSource<ScanProgress>, Task {
  private readonly pending = new Map<string, ScanProgress>();
  private readonly delivered = new Map<string, number>();
  private waiter: ((r: IteratorResult<ScanProgress>) => void) | null = null;
  /** Push mode: the target, and whether it can take an event now. */
  private target: PushTarget<ScanProgress> | null = null;
  private targetReady = false;
  private finished = false;
  private readonly completeAfter: string | null;
  private scheduled = false;
  /** Set once the followed scan's terminal event went out: the stream then completes. */
  private terminalDelivered = false;
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  private constructor(options: { completeAfterTerminalOf?: string }) {
    this.completeAfter = options.completeAfterTerminalOf ?? null;
  }

  /**
   * Listens on `topic`, then pushes what `readCurrent` returns (and again after every
   * reconnect of the transport).
   */
  static async open(options: {
    pubsub: PubSub;
    topic: string;
    readCurrent: (sinceDisconnect: Date | null) => Promise<ScanProgress[]>;
    completeAfterTerminalOf?: string;
  }): Promise<ScanEventStream> {
    const stream = new ScanEventStream(options);
    const unlisten = await options.pubsub.listen(options.topic, (payload) => stream.push(payload as ScanEventMessage));
    stream.cleanups.push(unlisten);
    let disconnectedAt: Date | null = null;
    stream.cleanups.push(
      options.pubsub.onConnectionChange((connected) => {
        if (!connected) {
          disconnectedAt ??= new Date();
          return;
        }
        const since = disconnectedAt;
        disconnectedAt = null;
        options.readCurrent(since).then(
          (events) => events.forEach((e) => stream.push(e)),
          () => undefined, // the next reconnect or event brings it
        );
      }),
    );
    try {
      for (const event of await options.readCurrent(null)) stream.push(event);
    } catch (err) {
      await stream.return();
      throw err;
    }
    return stream;
  }

  push(event: ScanProgress | ScanEventMessage): void {
    if (this.finished) return;
    // The owner rides along on bus messages; GraphQL serialises only the selected fields, so it
    // is not copied away here (no allocation per event per subscriber).
    const clean = event as ScanProgress;
    const last = this.delivered.get(clean.scanId) ?? -1;
    if (clean.seq <= last) return;
    const queued = this.pending.get(clean.scanId);
    if (queued && queued.seq >= clean.seq) return;
    this.pending.set(clean.scanId, clean); // keeps the scan's place in line
    this.flush();
  }

  private flush(): void {
    if (this.scheduled || this.pending.size === 0 || !(this.targetReady || this.waiter)) return;
    // Hand-offs go through a shared scheduler: a burst of events for thousands of
    // subscriptions is delivered in slices between which the event loop serves other work.
    this.scheduled = true;
    deliveries.schedule(this);
  }

  /** Called by the scheduler. */
  run(): void {
    this.scheduled = false;
    if (this.pending.size === 0 || this.finished) return;
    if (this.target) {
      if (!this.targetReady) return;
      this.targetReady = false;
      this.target.deliver(this.take());
      return;
    }
    if (!this.waiter) return;
    const w = this.waiter;
    this.waiter = null;
    w({ value: this.take(), done: false });
  }

  private take(): ScanProgress {
    const [scanId, event] = this.pending.entries().next().value as [string, ScanProgress];
    this.pending.delete(scanId);
    this.delivered.set(scanId, event.seq);
    if (scanId === this.completeAfter && isTerminal(event.status)) this.terminalDelivered = true;
    return event;
  }

  [PUSH](target: PushTarget<ScanProgress>): PushControl {
    this.target = target;
    this.targetReady = true;
    if (this.finished) target.end();
    else this.flush();
    return this;
  }

  /** Push mode: the target took the last event (its frame is written); the next may go. */
  resume(): void {
    if (this.finished || !this.target) return;
    if (this.terminalDelivered) {
      void this.return();
      return;
    }
    this.targetReady = true;
    this.flush();
  }

  /** Events waiting for the client (bounded by the number of scans it follows). */
  get backlog(): number {
    return this.pending.size;
  }

  async next(): Promise<IteratorResult<ScanProgress>> {
    if (this.finished || this.terminalDelivered) {
      await this.return();
      return { value: undefined, done: true };
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.flush();
    });
  }

  async return(): Promise<IteratorResult<ScanProgress>> {
    if (!this.finished) {
      this.finished = true;
      this.pending.clear();
      if (this.waiter) this.waiter({ value: undefined, done: true });
      this.waiter = null;
      this.target?.end();
      this.targetReady = false;
      for (const cleanup of this.cleanups.splice(0)) await cleanup();
    }
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<ScanProgress>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ScanProgress> {
    return this;
  }
}

/**
 * Hand-offs to subscribers, in slices of 64 for up to 8 ms per turn of the event loop
 * (shared/turns.ts): a burst for thousands of subscriptions neither blocks the loop nor trickles
 * out one slice per turn while a busy loop has other work.
 */
const deliveries = new TurnScheduler(8, 64);
