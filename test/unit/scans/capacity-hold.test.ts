/**
 * The scans side of issue 10.6, driven directly: the worker host does not claim while the
 * capacity monitor holds new scans, and the queue drains by itself once the hold clears; a QUEUED
 * scan says what it waits for.
 */
import "reflect-metadata";
import { describe, expect, it } from "vitest";
import type { ScanEvents } from "../../../src/modules/scans/scan-events.js";
import type { ScanRunner } from "../../../src/modules/scans/scan-runner.js";
import type { ScanWorkerRepo } from "../../../src/modules/scans/scan-worker.repo.js";
import { ScanWorkerHost } from "../../../src/modules/scans/scan-worker.js";
import { ScanService } from "../../../src/modules/scans/scan.service.js";
import { ScanStatus, ScanWaitReason } from "../../../src/modules/scans/scan.type.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { MemoryPubSub } from "../../../src/platform/pubsub/memory.pubsub.js";
import { InProcessScanQueue } from "../../../src/platform/queue/in-process.queue.js";
import { waitFor } from "../../support/wait.js";

describe("worker host under a capacity hold", () => {
  it("claims nothing while held, then claims every queued scan once the hold clears", async () => {
    const queue = new InProcessScanQueue(20);
    let hold: string | null = "capacity is CRITICAL on host-a (machine CPU)";
    let asked = 0;
    const claims: string[] = [];
    const repo = {
      claim: async ({ scanId }: { scanId: string }) => {
        claims.push(scanId);
        return { claimed: false as const, reason: "NOT_CLAIMABLE" as const };
      },
      heartbeat: async () => undefined,
    } as unknown as ScanWorkerRepo;
    const host = new ScanWorkerHost(
      {
        repo,
        queue,
        pubsub: new MemoryPubSub(),
        events: {} as ScanEvents,
        runner: {} as ScanRunner,
        log: silentLogger,
        capacityHold: () => {
          asked++;
          return hold;
        },
      },
      { workerId: "w1", concurrency: 2, maxConcurrent: 8, maxAttempts: 3, stallMs: 30_000, heartbeatMs: 60_000, holdRetryMs: 10 },
    );
    await host.start();
    try {
      await queue.enqueue("scan-1");
      await queue.enqueue("scan-2");
      // The hold is asked again and again (the queue retries), and nothing is claimed meanwhile.
      await waitFor("the worker to ask the hold several times", async () => asked, (n) => n >= 5);
      expect(claims).toEqual([]);

      hold = null;
      await waitFor("both scans to be claimed", async () => [...claims].sort(), (c) => c.length === 2);
      expect([...claims].sort()).toEqual(["scan-1", "scan-2"]);
      expect(queue.size).toBe(0);
    } finally {
      await host.stop(0);
      await queue.close();
    }
  });
});

describe("ScanService.waitingFor", () => {
  const service = (hold: string | null) =>
    new ScanService({
      collaborators: { claimHold: () => hold },
    } as unknown as ConstructorParameters<typeof ScanService>[0]);

  it.each<[ScanStatus, string | null, ScanWaitReason | null]>([
    [ScanStatus.QUEUED, "capacity is CRITICAL on host-a (machine CPU)", ScanWaitReason.CAPACITY],
    [ScanStatus.QUEUED, null, ScanWaitReason.SLOT],
    [ScanStatus.RUNNING, "capacity is CRITICAL on host-a (machine CPU)", null],
    [ScanStatus.SUCCEEDED, null, null],
    [ScanStatus.CANCELLED, "capacity is CRITICAL on host-a (machine CPU)", null],
  ])("%s with hold %s waits for %s", (status, hold, expected) => {
    expect(service(hold).waitingFor({ status })).toBe(expected);
  });
});
