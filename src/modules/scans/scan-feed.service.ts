import { topics, type PubSub } from "../../platform/pubsub/pubsub.js";
import { Batcher } from "../../shared/batcher.js";
import { socketWork } from "../../shared/turns.js";
import { AppError } from "../../shared/errors.js";
import { toProgressEvent } from "./scan-events.js";
import type { ScanFeedRepo, ScanWithPosition } from "./scan-feed.repo.js";
import { ScanEventStream } from "./scan-progress.stream.js";

/**
 * How far back a `since` reaches beyond what the client names: events carry the publishing
 * instance's clock and `finishedAt` the worker's, so a little overlap absorbs clock skew.
 * Replayed events the client already saw are dropped by sequence number on its side.
 */
export const SINCE_MARGIN_MS = 5_000;


/**
 * The live feeds behind `myScans` and `scanProgress` (issue 11, issue 15: the replay logic
 * lives here, not in the resolver). Each feed listens first, then reads PostgreSQL once: every
 * subscription that starts in the same moment shares that one statement (a {@link Batcher} over
 * {@link ScanFeedRepo}); after a pub/sub reconnect it reads again from the moment it was cut
 * off, so a missed event is never a missed outcome.
 */
export class ScanFeed {
  private readonly changes: Batcher<{ ownerId: string; since: Date | null }, ScanWithPosition[]>;
  private readonly current: Batcher<{ ownerId: string; scanId: string }, ScanWithPosition | null>;

  constructor(
    private readonly deps: {
      repo: ScanFeedRepo;
      pubsub: PubSub;
      /** The capacity monitor's hold on new scans, for `waitingFor` (capacity.port.ts). */
      capacityHold?: () => string | null;
    },
    options: { maxBatch?: number } = {},
  ) {
    // Each subscription's start continues in its turn, in the line of socket work (shared/turns.ts):
    // a storm's batch of 500 is not one stall.
    const batching = { ...options, settleIn: socketWork };
    this.changes = new Batcher((keys) => deps.repo.changedSince(keys), batching);
    this.current = new Batcher((keys) => deps.repo.current(keys), batching);
  }

  /**
   * Every change of every scan of the owner. First events: the QUEUED and RUNNING scans, and
   * with `since` every scan that ended at or after it (terminal ones included), oldest first.
   */
  myScans(ownerId: string, since: Date | null): Promise<ScanEventStream> {
    const read = async (from: Date | null) => {
      const rows = await this.changes.load({ ownerId, since: from ? new Date(from.getTime() - SINCE_MARGIN_MS) : null });
      const hold = this.deps.capacityHold?.() ?? null;
      return rows.map(({ scan, position }) => toProgressEvent(scan, position, hold));
    };
    return ScanEventStream.open({
      pubsub: this.deps.pubsub,
      topic: topics.userScans(ownerId),
      readCurrent: (sinceDisconnect) => read(sinceDisconnect ?? since),
    });
  }

  /**
   * One scan of the owner: its current state first (a terminal one too, and then the stream
   * completes), then each change. Throws NOT_FOUND for an unknown or foreign id; the ownership
   * check and the state are one read.
   */
  async scanProgress(ownerId: string, scanId: string): Promise<ScanEventStream> {
    let found = false;
    const stream = await ScanEventStream.open({
      pubsub: this.deps.pubsub,
      topic: topics.scanProgress(scanId),
      completeAfterTerminalOf: scanId,
      readCurrent: async () => {
        const row = await this.current.load({ ownerId, scanId });
        if (!row) return [];
        found = true;
        return [toProgressEvent(row.scan, row.position, this.deps.capacityHold?.() ?? null)];
      },
    });
    if (!found) {
      await stream.return();
      throw new AppError("NOT_FOUND", "Scan not found");
    }
    return stream;
  }
}
