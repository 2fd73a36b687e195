/**
 * One reading of a scan thread's failure (scanners/thread-errors.ts) for the document pipeline
 * and database scans: the errors the real pool gives, the skip or scan error each becomes.
 */
import "reflect-metadata";
import { afterAll, describe, expect, it } from "vitest";
import type { Logger } from "../../../src/platform/observability/logger.js";
import { cellsBatchError } from "../../../src/modules/scans/scan-runner.js";
import { IN_THIS_THREAD, type PipelineWorkers } from "../../../src/modules/scans/scan-pipeline.js";
import { createDetectionPool } from "../../../src/modules/scans/scanners/detection-pool.js";
import { threadFailure } from "../../../src/modules/scans/scanners/thread-errors.js";
import { FindingSink } from "../../../src/modules/scans/finding-sink.js";
import { runPipeline } from "../../../src/modules/scans/scan-pipeline.js";

const oom = Object.assign(new Error("Worker terminated due to reaching memory limit: JS heap out of memory"), { code: "ERR_WORKER_OUT_OF_MEMORY" });

describe("threadFailure", () => {
  it.each([
    ["the pool's out-of-memory error", oom, "memory"],
    ["AbortSignal.timeout's reason", new DOMException("The operation was aborted due to timeout", "TimeoutError"), "time"],
    ["an AbortError", new DOMException("This operation was aborted", "AbortError"), "time"],
    ["a reader's own error", new TypeError("Cannot read properties of undefined (reading 'x')"), "other"],
    ["a string", "boom", "other"],
    ["nothing", undefined, "other"],
  ])("%s → %s", (_what, err, expected) => expect(threadFailure(err)).toBe(expected));

  describe("on the real pool's errors", () => {
    const pool = createDetectionPool({ threads: 1 });
    afterAll(() => pool.close());
    const big = new SharedArrayBuffer(4 * 1024 * 1024);
    Buffer.from(big).fill("jan@voorbeeld.nl 06-12345678\n");

    it("a task over its time budget, and one sent with an aborted signal, read as time", async () => {
      const late = await pool.detectChunk({ text: big, start: 0, end: big.byteLength, lineOffset: 0, hashKey: "k" }, AbortSignal.timeout(50)).catch((e: unknown) => e);
      expect(threadFailure(late)).toBe("time");
      const ac = new AbortController();
      ac.abort();
      const refused = await pool.detectChunk({ text: big, start: 0, end: 10, lineOffset: 0, hashKey: "k" }, ac.signal).catch((e: unknown) => e);
      expect(threadFailure(refused)).toBe("time");
    }, 60_000);
  });
});

describe("what each failure becomes", () => {
  it("a database's cells batch: time skips the table (TIMEOUT); memory and anything else fail the scan, the error in the log's detail only", () => {
    expect(cellsBatchError(new DOMException("timed out", "TimeoutError"), 60_000)).toMatchObject({ code: "TIMEOUT", message: expect.stringMatching(/longer than 60 s/) });
    expect(cellsBatchError(oom, 60_000)).toMatchObject({ code: "SCAN_FAILED", message: expect.stringMatching(/more memory than a scan thread may use/) });
    // Not a timeout (as it used to be called): a bug says so, and keeps its text out of the user's message.
    const other = cellsBatchError(new TypeError("secret-ish internal text"), 60_000);
    expect(other).toMatchObject({ code: "SCAN_FAILED", detail: expect.stringContaining("secret-ish internal text") });
    expect(other.message).not.toContain("secret-ish");
  });

  it("a document's input: anything but memory or time is skipped as UNREADABLE, logged with the error and never the task", async () => {
    const warnings: unknown[][] = [];
    const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
    const workers: PipelineWorkers = {
      ...IN_THIS_THREAD,
      extract: async (t) => {
        if (t.name === "bad.txt") throw new TypeError("reader blew up");
        return IN_THIS_THREAD.extract(t, new AbortController().signal);
      },
    };
    const signal = new AbortController().signal;
    const sink = new FindingSink({ write: async (b) => ({ held: true, inserted: b.type.length }), maxFindings: 10, signal });
    const docs = ["bad.txt", "ok.txt"];
    const result = await runPipeline({
      mode: "document",
      inputs: docs.map((name, ordinal) => ({ ordinal, name })),
      load: async () => ({ content: new Uint8Array(Buffer.from("mail jan@voorbeeld.nl")), sealed: { key: new Uint8Array(32).fill(9), aad: new Uint8Array(1) } }),
      workers,
      sink,
      signal,
      hashKey: "k",
      onProgress: () => undefined,
      inputTimeoutMs: 5_000,
      maxTextBytes: 1 << 20,
      threadHeapBytes: 1 << 26,
      log,
    }).catch((e: unknown) => e);
    // ok.txt's (fake) key does not open it: the scan stops there, after bad.txt was skipped.
    expect(result).toMatchObject({ code: "INPUT_UNREADABLE" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![0]).toEqual({ step: "extract", err: { name: "TypeError", message: "reader blew up" } });
    expect(JSON.stringify(warnings)).not.toMatch(/key|aad/);
  });
});
