/**
 * The real worker-thread pool under its limits (issue 10 point 1): an extraction that needs
 * more heap than a thread may have fails with ERR_WORKER_OUT_OF_MEMORY, the pipeline turns it
 * into a MEMORY_BUDGET skip, and the pool's replacement thread scans the next input; aborting
 * a running task ends its thread at once.
 */
import { afterAll, describe, expect, it } from "vitest";
import { FindingSink } from "../../../src/modules/scans/finding-sink.js";
import { createInputBox, joinSealed } from "../../../src/modules/scans/input-box.js";
import { parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";
import { runPipeline } from "../../../src/modules/scans/scan-pipeline.js";
import { createDetectionPool } from "../../../src/modules/scans/scanners/detection-pool.js";
import type { FindingBatch } from "../../../src/modules/scans/scan.repo.js";
import { silentLogger } from "../../../src/platform/observability/logger.js";

describe("scan worker threads under resource limits", () => {
  const pool = createDetectionPool({ threads: 1, maxHeapMb: 24 });
  afterAll(() => pool.close());

  it("an input that needs more heap is skipped (MEMORY_BUDGET); the replacement thread scans the next one", async () => {
    // ~12 MB of HTML: its text extraction builds strings several times that size.
    const html = `<p>${"<b>x</b> &amp; ".repeat(800_000)}</p>`;
    const docs: Record<string, string> = { "huge.html": html, "brief.txt": "mail jan@voorbeeld.nl" };
    const names = Object.keys(docs);
    const batches: FindingBatch[] = [];
    const signal = new AbortController().signal;
    const sink = new FindingSink({ write: async (b) => (batches.push(b), { held: true, inserted: b.type.length }), maxFindings: 100, signal });
    const result = await runPipeline({
      mode: "document",
      inputs: names.map((name, ordinal) => ({ ordinal, name })),
      load: async (ordinal) => ({ content: new Uint8Array(Buffer.from(docs[names[ordinal]!]!)) }),
      workers: { extract: pool.extract, detectChunk: pool.detectChunk, parallelism: 1 },
      sink,
      signal,
      hashKey: "k",
      onProgress: () => undefined,
      inputTimeoutMs: 60_000,
      maxTextBytes: 64 * 1024 * 1024,
      threadHeapBytes: 24 * 1024 * 1024,
      log: silentLogger,
    });
    await sink.flush();
    expect(result.skipped).toEqual([{ name: "huge.html", code: "MEMORY_BUDGET", reason: "huge.html: needed more than 24 MB of memory to read; not scanned" }]);
    expect(batches.flatMap((b) => b.source.map((s, i) => `${s}:${b.line[i]}:${b.type[i]}`))).toEqual(["brief.txt:1:EMAIL"]);
  }, 120_000);

  it("a sealed input is opened in the thread: the task carries ciphertext and its key, the text comes back", async () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${Buffer.alloc(32, 5).toString("base64")}`));
    const place = { ownerId: "alice", scanId: "00000000-0000-4000-8000-000000000007", ordinal: 0 };
    const plain = Buffer.from("regel\n".repeat(20_000) + "mail jan@voorbeeld.nl\n");
    const stored = joinSealed(await box.seal(place, plain));
    const res = await pool.extract({ name: "a.txt", content: stored, sealed: box.keyFor(place, "k1"), mode: "document", maxTextBytes: 1 << 22, chunkBytes: 65536 });
    if (!res.ok) throw new Error(JSON.stringify(res));
    expect(Buffer.from(res.input.text).equals(plain)).toBe(true);
    expect(stored.byteLength).toBe(0); // transferred to the thread, not copied
    const other = joinSealed(await box.seal(place, plain));
    expect(await pool.extract({ name: "a.txt", content: other, sealed: box.keyFor({ ...place, ordinal: 1 }, "k1"), mode: "document", maxTextBytes: 1 << 22, chunkBytes: 65536 })).toMatchObject({
      ok: false,
      unopened: { reason: "authentication" },
    });
  }, 120_000);

  it("aborting a running task ends it at once and the pool goes on", async () => {
    // A pool of its own with room to spare: this is about abort, and in the 24 MB pool above a
    // fast machine could reach the heap limit on this input before the abort arrives.
    const roomy = createDetectionPool({ threads: 1, maxHeapMb: 256 });
    try {
      const ac = new AbortController();
      const shared = new SharedArrayBuffer(8 * 1024 * 1024);
      Buffer.from(shared).fill("jan@voorbeeld.nl 06-12345678\n");
      const running = roomy.detectChunk({ text: shared, start: 0, end: shared.byteLength, lineOffset: 0, hashKey: "k" }, ac.signal);
      setTimeout(() => ac.abort(), 200);
      const t0 = Date.now();
      await expect(running).rejects.toThrow(/abort/i);
      expect(Date.now() - t0).toBeLessThan(5_000); // not the many seconds detecting 8 MB takes
      const small = new SharedArrayBuffer(64);
      Buffer.from(small).write("BSN 123456782");
      expect((await roomy.detectChunk({ text: small, start: 0, end: 13, lineOffset: 0, hashKey: "k" })).type).toEqual(["BSN"]);
    } finally {
      await roomy.close();
    }
  }, 120_000);
});
