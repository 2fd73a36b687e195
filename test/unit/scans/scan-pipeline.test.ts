/**
 * The pure parts of the scan pipeline (issue 10): the zip budget, UTF-8 chunking, the finding
 * sink (batches, back-pressure, cap, merges) and the pipeline's per-input budgets, with the
 * thread work done in this thread or faked.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/platform/observability/logger.js";
import { FindingSink, type SourceRows } from "../../../src/modules/scans/finding-sink.js";
import { runPipeline, type PipelineWorkers } from "../../../src/modules/scans/scan-pipeline.js";
import { detectChunk } from "../../../src/modules/scans/scanners/chunk-detect.js";
import { chunkUtf8, extractInput } from "../../../src/modules/scans/scanners/extract-input.js";
import { ScanAbortedError, ScanInputError, type ScanProgressUpdate } from "../../../src/modules/scans/scanners/scanner.types.js";
import { createInputBox, joinSealed } from "../../../src/modules/scans/input-box.js";
import { parseEncryptionKeys } from "../../../src/platform/crypto/secret-box.js";
import { checkZipBudget } from "../../../src/modules/scans/scanners/zip-budget.js";
import type { FindingBatch } from "../../../src/modules/scans/scan.repo.js";
import { makeDocx, zipBomb } from "../scanners/fixtures.js";


describe("checkZipBudget", () => {
  it.each([
    { what: "within budget", zip: () => zipBomb(1000), ok: true },
    { what: "exactly the budget", zip: () => zipBomb(4096), ok: true },
    { what: "stored (method 0) over budget", zip: () => zipBomb(5000, { method: 0 }), code: "TOO_LARGE", msg: /declares more than/ },
    { what: "declares more than the budget", zip: () => zipBomb(100_000), code: "TOO_LARGE", msg: /declares more than 4 KB/ },
    { what: "lies: declares 10 bytes, inflates to 100 KB", zip: () => zipBomb(100_000, { declare: 10 }), code: "TOO_LARGE", msg: /inflates to more than 4 KB/ },
    { what: "not a zip", zip: () => new Uint8Array(Buffer.from("PK\u0003\u0004 nonsense")), code: "UNREADABLE", msg: /not a readable DOCX/ },
  ])("$what", ({ zip, ok, code, msg }) => {
    if (ok) expect(checkZipBudget(zip(), 4096, "x.docx").entries).toBe(1);
    else expect(() => checkZipBudget(zip(), 4096, "x.docx")).toThrow(expect.objectContaining({ code, message: expect.stringMatching(msg!) }));
  });

  it("accepts a real DOCX, and extraction skips a bomb as TOO_LARGE before mammoth reads it", async () => {
    expect(checkZipBudget(makeDocx(["Hallo"]), 1024 * 1024).entries).toBeGreaterThan(1);
    const res = await extractInput({ name: "b.docx", content: zipBomb(50 * 1024 * 1024, { declare: 100 }), mode: "document", maxTextBytes: 1024 * 1024, chunkBytes: 65536 });
    expect(res).toEqual({ ok: false, skip: { code: "TOO_LARGE", reason: expect.stringMatching(/^b\.docx: inflates to more than 1 MB/) } });
  });
});

describe("chunkUtf8", () => {
  const chunksOf = (text: string, size: number) => {
    const bytes = Buffer.from(text, "utf8");
    const flat = chunkUtf8(bytes, size);
    const out: Array<{ text: string; lineOffset: number }> = [];
    for (let i = 0; i < flat.length; i += 3) out.push({ text: bytes.subarray(flat[i]!, flat[i + 1]!).toString("utf8"), lineOffset: flat[i + 2]! });
    return out;
  };

  it("keeps whole lines, counts lines before each chunk, and covers the text exactly", () => {
    const text = Array.from({ length: 100 }, (_, i) => `regel ${i}`).join("\n");
    const chunks = chunksOf(text, 64);
    expect(chunks.map((c) => c.text).join("")).toBe(text);
    for (const c of chunks.slice(0, -1)) expect(c.text.endsWith("\n")).toBe(true);
    for (const c of chunks) expect(c.text.split("\n")[0]).toBe(`regel ${c.lineOffset}`);
  });

  it("cuts a line longer than a chunk at a character boundary, never inside one", () => {
    const text = "é".repeat(100) + "\nnext";
    const chunks = chunksOf(text, 33);
    expect(chunks.map((c) => c.text).join("")).toBe(text);
    expect(chunks.every((c) => !c.text.includes("\uFFFD"))).toBe(true);
    let before = 0;
    for (const c of chunks) {
      expect(c.lineOffset).toBe(before);
      before += c.text.split("\n").length - 1;
    }
  });

  it("gives lines of the whole text through detectChunk", () => {
    const text = Array.from({ length: 5000 }, (_, i) => (i === 4321 ? "mail jan@voorbeeld.nl" : "niets hier")).join("\n");
    const shared = new SharedArrayBuffer(Buffer.byteLength(text));
    Buffer.from(shared).write(text);
    const flat = chunkUtf8(new Uint8Array(shared), 1024);
    const lines: number[] = [];
    for (let i = 0; i < flat.length; i += 3) lines.push(...detectChunk({ text: shared, start: flat[i]!, end: flat[i + 1]!, lineOffset: flat[i + 2]!, hashKey: "k" }).line);
    expect(lines).toEqual([4322]);
  });
});

const rows = (n: number, from = 0, line = (i: number) => i + 1, severity = "MEDIUM"): SourceRows => ({
  type: Array.from({ length: n }, () => "EMAIL"),
  severity: Array.from({ length: n }, () => severity),
  confidence: Array.from({ length: n }, () => 0.9),
  maskedValue: Array.from({ length: n }, () => "j***@x.nl"),
  occurrences: Array.from({ length: n }, () => 1),
  valueHash: Array.from({ length: n }, (_, i) => `h${from + i}`),
  line: Array.from({ length: n }, (_, i) => line(from + i)),
});

describe("FindingSink", () => {
  function recording(opts: { held?: boolean; delayMs?: number } = {}) {
    const batches: FindingBatch[] = [];
    let inflight = 0;
    let maxInflight = 0;
    const write = async (b: FindingBatch) => {
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
      batches.push(b);
      inflight--;
      return { held: opts.held ?? true, inserted: b.type.length };
    };
    return { batches, write, maxInflight: () => maxInflight };
  }

  it("writes bounded batches, one at a time, with ordinals in order", async () => {
    const r = recording();
    const sink = new FindingSink({ write: r.write, maxFindings: 1_000_000, signal: new AbortController().signal, batchRows: 100 });
    for (let k = 0; k < 10; k++) await sink.addSource("a.txt", rows(95, k * 95));
    await sink.flush();
    expect(r.batches.map((b) => b.type.length)).toEqual([...Array(9).fill(100), 50]);
    expect(r.maxInflight()).toBe(1);
    expect(r.batches.flatMap((b) => b.ordinal)).toEqual(Array.from({ length: 950 }, (_, i) => i));
    expect(sink.stored).toBe(950);
  });

  it("past maxFindings counts values instead of storing them; riskLevel covers every value found", async () => {
    const r = recording();
    const sink = new FindingSink({ write: r.write, maxFindings: 120, signal: new AbortController().signal, batchRows: 50 });
    await sink.addSource("a.txt", rows(100));
    await sink.addSource("a.txt", rows(100, 100, undefined, "CRITICAL"));
    await sink.flush();
    expect({ stored: sink.stored, notStored: sink.notStored, truncated: sink.truncated, risk: sink.riskLevel }).toEqual({
      stored: 120,
      notStored: 80,
      truncated: true,
      risk: "CRITICAL",
    });
  });

  it("merges a repeat of (source, line, value) within a batch: one statement may not touch a row twice", async () => {
    const r = recording();
    const sink = new FindingSink({ write: r.write, maxFindings: 10, signal: new AbortController().signal });
    await sink.addSource("a.txt", rows(3, 0, () => 7));
    await sink.addSource("a.txt", rows(3, 0, () => 7)); // the same three values on the same line
    await sink.addSource("b.txt", rows(1, 0, () => 7)); // another document: its own row
    await sink.flush();
    expect(r.batches).toHaveLength(1);
    expect(r.batches[0]!.occurrences).toEqual([2, 2, 2, 1]);
    expect(sink.stored).toBe(4);
  });

  it("a repeat merged by the database frees its place under the cap", async () => {
    let calls = 0;
    // The first batch: half of it merged into rows already stored.
    const write = async (b: FindingBatch) => ({ held: true, inserted: calls++ === 0 ? b.type.length / 2 : b.type.length });
    const sink = new FindingSink({ write, maxFindings: 10, signal: new AbortController().signal, batchRows: 10 });
    await sink.addSource("a.txt", rows(10));
    await sink.flush();
    await sink.addSource("a.txt", rows(10, 10));
    await sink.flush();
    expect(sink.stored).toBe(10);
    expect(sink.notStored).toBe(5);
  });

  it("stops when the scan is no longer held (onLost once) or aborted", async () => {
    let lost = 0;
    const r = recording({ held: false });
    const sink = new FindingSink({ write: r.write, maxFindings: 1000, signal: new AbortController().signal, batchRows: 10, onLost: () => lost++ });
    await expect(
      (async () => {
        for (let k = 0; k < 10; k++) await sink.addSource("a.txt", rows(10, k * 10));
      })(),
    ).rejects.toBeInstanceOf(ScanAbortedError);
    expect(lost).toBe(1);
    expect(r.batches.length).toBeLessThanOrEqual(2);

    const ac = new AbortController();
    const aborted = new FindingSink({ write: recording().write, maxFindings: 1000, signal: ac.signal, batchRows: 10 });
    ac.abort();
    await expect(aborted.addSource("a.txt", rows(10))).rejects.toBeInstanceOf(ScanAbortedError);
  });
});

describe("runPipeline budgets", () => {
  const enc = (s: string) => new Uint8Array(Buffer.from(s));
  const inThread: PipelineWorkers = { extract: (t) => extractInput(t), detectChunk: async (t) => detectChunk(t), parallelism: 2 };

  async function run(workers: PipelineWorkers, docs: Record<string, string>, timeoutMs = 5_000, signal = new AbortController().signal, phoneRegions?: string[]) {
    const r: FindingBatch[] = [];
    const sink = new FindingSink({ write: async (b) => (r.push(b), { held: true, inserted: b.type.length }), maxFindings: 1000, signal });
    const names = Object.keys(docs);
    const progress: ScanProgressUpdate[] = [];
    const result = await runPipeline({
      mode: "document",
      inputs: names.map((name, ordinal) => ({ ordinal, name })),
      load: async (ordinal) => ({ content: enc(docs[names[ordinal]!]!) }),
      workers,
      sink,
      signal,
      hashKey: "k",
      phoneRegions,
      onProgress: (u) => progress.push(u),
      inputTimeoutMs: timeoutMs,
      maxTextBytes: 1024 * 1024,
      threadHeapBytes: 64 * 1024 * 1024,
      log: silentLogger,
    });
    await sink.flush();
    return { ...result, sources: r.flatMap((b) => b.source.map((s, i) => `${s}:${b.line[i]}:${b.type[i]}`)), progress };
  }

  it("scans every input in this thread, lines of the whole document", async () => {
    const out = await run(inThread, { "a.txt": "x\nmail jan@voorbeeld.nl", "b.html": "<p>\n\nBSN 123456782</p>" });
    expect(out.sources).toEqual(["a.txt:2:EMAIL", "b.html:3:BSN"]);
    expect(out.skipped).toEqual([]);
    expect(out.progress.at(-1)).toMatchObject({ itemsProcessed: 2, itemsTotal: 2 });
  });

  it("DETECTION_PHONE_REGIONS reaches the detection threads: a national German number is read only when DE is listed", async () => {
    const docs = { "call.txt": "Ruf an: 030 23125000 (Berlin office)" };
    expect((await run(inThread, docs, 5_000, undefined, ["NL", "DE"])).sources).toEqual(["call.txt:1:PHONE_NUMBER"]);
    expect((await run(inThread, docs, 5_000, undefined, ["NL"])).sources).toEqual([]);
  });

  it("an input whose thread runs out of memory is skipped (MEMORY_BUDGET); the next one is scanned", async () => {
    const workers: PipelineWorkers = {
      ...inThread,
      extract: async (t) => {
        if (t.name === "huge.pdf") throw Object.assign(new Error("Worker terminated due to reaching memory limit: JS heap out of memory"), { code: "ERR_WORKER_OUT_OF_MEMORY" });
        return extractInput(t);
      },
    };
    const out = await run(workers, { "huge.pdf": "%PDF-", "b.txt": "mail jan@voorbeeld.nl" });
    expect(out.skipped).toEqual([{ name: "huge.pdf", code: "MEMORY_BUDGET", reason: "huge.pdf: needed more than 64 MB of memory to read; not scanned" }]);
    expect(out.sources).toEqual(["b.txt:1:EMAIL"]);
  });

  it("extraction or one detection chunk over the time budget skips that input only, with the line it stopped at", async () => {
    const hang = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
    const workers: PipelineWorkers = {
      ...inThread,
      extract: (t, signal) => (t.name === "slow.html" ? hang(signal) : extractInput(t)),
      detectChunk: async (t, signal) => {
        const rows = detectChunk(t);
        return rows.maskedValue.some((m) => m.startsWith("p")) ? hang(signal) : rows;
      },
    };
    const out = await run(workers, { "slow.html": "<", "stuck.txt": "regel\npiet@voorbeeld.nl", "ok.txt": "jan@voorbeeld.nl" }, 200);
    expect(out.skipped.map((s) => [s.name, s.code])).toEqual([
      ["slow.html", "TIME_BUDGET"],
      ["stuck.txt", "TIME_BUDGET"],
    ]);
    expect(out.skipped[0]!.reason).toBe("slow.html: reading its text took longer than 0.2 s; not scanned");
    expect(out.skipped[1]!.reason).toMatch(/^stuck\.txt: detection stopped at line 1 after/);
    expect(out.sources).toEqual(["ok.txt:1:EMAIL"]);
  });

  it("sealed inputs reach the extraction step still sealed, with their key, and are opened there; one that does not open fails the scan (INPUT_UNREADABLE)", async () => {
    const box = createInputBox(parseEncryptionKeys(`k1:${Buffer.alloc(32, 3).toString("base64")}`));
    const at = (ordinal: number) => ({ ownerId: "alice", scanId: "00000000-0000-4000-8000-000000000009", ordinal });
    const stored = [
      joinSealed(await box.seal(at(0), enc("x\nmail jan@voorbeeld.nl"))),
      enc("BSN 123456782"), // an older row, stored in clear (keyId null)
      joinSealed(await box.seal(at(2), enc("piet@voorbeeld.nl"))),
    ];
    const seen: Array<{ sealed: boolean; clear: boolean }> = [];
    const workers: PipelineWorkers = {
      ...inThread,
      extract: (t) => {
        seen.push({ sealed: t.sealed !== undefined, clear: Buffer.from(t.content).includes(Buffer.from("voorbeeld")) });
        return extractInput(t);
      },
    };
    const pipe = (key: (ordinal: number) => ReturnType<typeof box.keyFor>) => {
      const batches: FindingBatch[] = [];
      const signal = new AbortController().signal;
      const sink = new FindingSink({ write: async (b) => (batches.push(b), { held: true, inserted: b.type.length }), maxFindings: 100, signal });
      const done = runPipeline({
        mode: "document",
        inputs: ["a.txt", "b.txt", "c.txt"].map((name, ordinal) => ({ ordinal, name })),
        load: async (ordinal) => ({ content: Uint8Array.from(stored[ordinal]!), sealed: ordinal === 1 ? undefined : key(ordinal) }),
        workers,
        sink,
        signal,
        hashKey: "k",
        onProgress: () => undefined,
        inputTimeoutMs: 5_000,
        maxTextBytes: 1 << 20,
        threadHeapBytes: 1 << 26,
        log: silentLogger,
      }).then(async (r) => (await sink.flush(), r));
      return { done, sources: () => batches.flatMap((b) => b.source.map((s, i) => `${s}:${b.line[i]}:${b.type[i]}`)) };
    };
    const good = pipe((ordinal) => box.keyFor(at(ordinal), "k1"));
    expect((await good.done).skipped).toEqual([]);
    expect(good.sources()).toEqual(["a.txt:2:EMAIL", "b.txt:1:BSN", "c.txt:1:EMAIL"]);
    expect(seen).toEqual([
      { sealed: true, clear: false },
      { sealed: false, clear: false },
      { sealed: true, clear: false },
    ]);
    // c.txt's key is another row's: the scan stops rather than skip or read ciphertext as text.
    const bad = pipe((ordinal) => box.keyFor(at(ordinal === 2 ? 0 : ordinal), "k1"));
    await expect(bad.done).rejects.toThrow(ScanInputError);
    await expect(bad.done).rejects.toMatchObject({ code: "INPUT_UNREADABLE", message: expect.stringMatching(/^The scan's stored documents cannot be opened .*start the scan again$/) });
  });

  it("a cancelled scan stops with ScanAbortedError, not a skip", async () => {
    const ac = new AbortController();
    const workers: PipelineWorkers = {
      ...inThread,
      extract: (_t, signal) => new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error("AbortError")), { once: true })),
    };
    setTimeout(() => ac.abort(), 20);
    await expect(run(workers, { "a.txt": "x" }, 5_000, ac.signal)).rejects.toBeInstanceOf(ScanAbortedError);
  });
});
