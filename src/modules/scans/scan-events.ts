import type { Logger } from "../../platform/observability/logger.js";
import { topics, type PubSub } from "../../platform/pubsub/pubsub.js";
import { withTimeout } from "../../shared/async.js";
import { type Scan, type ScanProgress, ScanStatus, waitingForOf } from "./scan.type.js";

const PUBLISH_TIMEOUT_MS = 1_000;
const RESOLVED: Promise<void> = Promise.resolve();
const TOPIC_CACHE_SIZE = 50_000;

/** Builds the event for a scan row; `queuePosition` only means something while QUEUED. */
export function toProgressEvent(scan: Scan, queuePosition: number | null, capacityHold: string | null = null): ScanProgress {
  return eventOf(scan, queuePosition, capacityHold, undefined);
}

/**
 * One object literal with every field, the owner included for bus messages: built once per
 * event and shared by every listener, so its shape is fixed (no spread, no copy).
 */
function eventOf<O extends string | undefined>(scan: Scan, queuePosition: number | null, capacityHold: string | null, ownerId: O) {
  return {
    scanId: scan.id,
    status: scan.status,
    progress: scan.progress,
    stage: scan.stage,
    itemsProcessed: scan.itemsProcessed,
    itemsTotal: scan.itemsTotal,
    queuePosition: scan.status === ScanStatus.QUEUED ? queuePosition : null,
    waitingFor: waitingForOf(scan.status, capacityHold),
    findingsCount: scan.findingsCount,
    riskLevel: scan.riskLevel,
    error: scan.errorCode ? { code: scan.errorCode, message: scan.errorMessage ?? scan.errorCode } : null,
    seq: scan.seq,
    at: new Date(),
    ownerId,
  };
}

/** The owner travels with the event so the per-user topic can be derived; it is stripped before clients see it. */
export type ScanEventMessage = ScanProgress & { ownerId: string };

/**
 * Publishes every change of a scan to its own topic and its owner's topic (one builder per
 * topic, STYLE.md). Publishing is best effort: PostgreSQL holds the truth and subscribers
 * re-read it, so a failed publish is logged, never thrown into the scan.
 */
export class ScanEvents {
  private readonly topicCache = new Map<string, readonly [string, string]>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    /** The capacity monitor's hold on new scans, for `waitingFor` (capacity.port.ts). */
    private readonly capacityHold: () => string | null = () => null,
  ) {}

  publish(scan: Scan, queuePosition: number | null = null): Promise<void> {
    const message: ScanEventMessage = eventOf(scan, queuePosition, this.capacityHold(), scan.ownerId);
    if (this.pubsub.local) {
      // In process: delivered synchronously, cannot block; no promise to wait for per event.
      const [scanTopic, ownerTopic] = this.topicsOf(scan);
      this.pubsub.publish(scanTopic, message);
      this.pubsub.publish(ownerTopic, message);
      return RESOLVED;
    }
    return this.publishRemote(scan, message);
  }

  /**
   * The scan's two topics, kept per scan id: a scan publishes many events, and a kept string is
   * hashed once (a new one per event is built, flattened and hashed on every lookup). Bounded.
   */
  private topicsOf(scan: Scan): readonly [string, string] {
    let pair = this.topicCache.get(scan.id);
    if (!pair) {
      if (this.topicCache.size >= TOPIC_CACHE_SIZE) this.topicCache.clear();
      pair = [topics.scanProgress(scan.id), topics.userScans(scan.ownerId)];
      this.topicCache.set(scan.id, pair);
    }
    return pair;
  }

  private async publishRemote(scan: Scan, message: ScanEventMessage): Promise<void> {
    try {
      // Bounded: with Redis down, ioredis queues commands until it reconnects; a request or a
      // worker must not wait for that. Subscribers re-read PostgreSQL after the reconnect.
      await withTimeout(
        Promise.all([this.pubsub.publish(topics.scanProgress(scan.id), message), this.pubsub.publish(topics.userScans(scan.ownerId), message)]),
        PUBLISH_TIMEOUT_MS,
        "scan event publish",
      );
    } catch (err) {
      this.log.warn({ scanId: scan.id, err: (err as Error).message }, "scan event not published (subscribers will re-read)");
    }
  }

  async publishMany(items: Array<{ scan: Scan; position: number | null }>): Promise<void> {
    await Promise.all(items.map(({ scan, position }) => this.publish(scan, position)));
  }

  /** Asks whichever worker holds the scan to stop it. */
  async broadcastCancel(scanId: string): Promise<void> {
    try {
      await withTimeout(this.pubsub.publish(topics.scanCancel(), { scanId }), PUBLISH_TIMEOUT_MS, "cancel broadcast");
    } catch (err) {
      this.log.warn({ scanId, err: (err as Error).message }, "cancel broadcast failed; the worker notices at its next progress write");
    }
  }
}
