import { afterAll, describe, expect, it } from "vitest";
import { IN_THIS_THREAD, PIPELINE_CHUNK_BYTES, type PipelineWorkers } from "../../../src/modules/scans/scan-pipeline.js";
import { skipReasonForPath } from "../../../src/modules/scans/scanners/code-skip.js";
import { createDetectionPool, workerSpec } from "../../../src/modules/scans/scanners/detection-pool.js";
import { chunkUtf8, extractInput } from "../../../src/modules/scans/scanners/extract-input.js";
import { ScanAbortedError, type NamedContent } from "../../../src/modules/scans/scanners/scanner.types.js";
import { detectKind, htmlToText } from "../../../src/modules/scans/scanners/text-extract.js";
import { detect } from "../../../src/modules/detection/index.js";
import { makeDocx, makePdf } from "./fixtures.js";
import { scanThroughPipeline } from "./pipeline-run.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const doc = (name: string, text: string | Uint8Array): NamedContent => ({ name, content: typeof text === "string" ? enc(text) : text });

const summary = (fs: { type: string; source: string; line?: number | null }[]): string[] => fs.map((f) => `${f.source}:${f.line}:${f.type}`);

describe("text extraction", () => {
  it.each([
    ["a.pdf", makePdf(["x"]), "pdf"],
    ["a.bin", makeDocx(["x"]), "docx"],
    ["page.html", enc("<p>x</p>"), "html"],
    ["noext", enc("<!DOCTYPE html><html>"), "html"],
    ["data.json", enc("{}"), "json"],
    ["data.csv", enc("a,b"), "csv"],
    ["README.md", enc("# x"), "markdown"],
    ["notes.txt", enc("hello"), "text"],
    ["image.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]), "binary"],
  ].map(([name, bytes, kind]) => ({ name: name as string, bytes: bytes as Uint8Array, kind: kind as string })))("$name is $kind", ({ name, bytes, kind }) => expect(detectKind(name, bytes)).toBe(kind));

  it("strips HTML but keeps line numbers and attribute values", () => {
    const html = "<html>\n<head><style>\n.a{}\n</style></head>\n<body>\n<p>BSN &amp; meer:\n<b>123456782</b></p>\n<a href=\"mailto:jan@example.com\">mail</a>\n</body></html>";
    const text = htmlToText(html);
    expect(text.split("\n")).toHaveLength(html.split("\n").length);
    expect(text.split("\n")[6]).toContain("123456782");
    expect(text).toContain("BSN & meer");
    expect(text).toContain("jan@example.com");
    expect(text).not.toContain(".a{}");
  });
});

describe("document scans through the pipeline", () => {
  it("finds values with document name and line in text, CSV, JSON, HTML and Markdown", async () => {
    const { rows, progress, skipped } = await scanThroughPipeline("document", [
      doc("brief.txt", "Beste,\n\nMijn BSN is 123456782.\nGroet"),
      doc("klanten.csv", "naam,email,iban\nJan,jan@example.com,NL91ABNA0417164300\n"),
      doc("data.json", '{\n  "phone": "+31 6 12345678"\n}'),
      doc("page.html", "<html>\n<body>\n<p>Creditcard: 4111 1111 1111 1111</p>\n</body></html>"),
      doc("notes.md", "# Notes\n\n- server `203.0.113.42`\n"),
    ]);
    expect(summary(rows)).toEqual([
      "brief.txt:3:BSN",
      "klanten.csv:2:EMAIL",
      "klanten.csv:2:IBAN",
      "data.json:2:PHONE_NUMBER",
      "page.html:3:CREDIT_CARD",
      "notes.md:3:IP_ADDRESS",
    ]);
    expect(skipped).toEqual([]);
    expect(JSON.stringify(rows)).not.toMatch(/123456782|NL91ABNA0417164300|4111 1111 1111 1111/);
    expect(progress.at(-1)).toMatchObject({ itemsProcessed: 5, itemsTotal: 5 });
  });

  it("reads PDF and DOCX", async () => {
    const { rows } = await scanThroughPipeline("document", [
      doc("scan.pdf", makePdf(["Factuur", "IBAN NL91 ABNA 0417 1643 00", "Mail: piet@example.nl"])),
      doc("brief.docx", makeDocx(["Geachte heer,", "Uw BSN 123456782 is bekend."])),
    ]);
    expect(summary(rows)).toEqual(["scan.pdf:2:IBAN", "scan.pdf:3:EMAIL", "brief.docx:2:BSN"]);
  });

  it("skips an unreadable PDF with a reason (UNREADABLE) and scans the next document", async () => {
    const { rows, skipped } = await scanThroughPipeline("document", [doc("broken.pdf", enc("%PDF-1.4\nthis is not a pdf")), doc("ok.txt", "BSN 123456782")]);
    expect(skipped).toEqual([{ name: "broken.pdf", code: "UNREADABLE", reason: expect.stringMatching(/broken\.pdf/) }]);
    expect(summary(rows)).toEqual(["ok.txt:1:BSN"]);
  });

  it("keeps line numbers right across chunks", async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => (i % 7000 === 6999 ? `regel ${i + 1}: mail p${i}@example.com` : `regel ${i + 1} zonder gegevens, wel wat tekst om te vullen`));
    const text = lines.join("\n");
    expect(chunkUtf8(Buffer.from(text), PIPELINE_CHUNK_BYTES).length / 3).toBeGreaterThan(3);
    const { rows } = await scanThroughPipeline("document", [doc("big.txt", text)]);
    expect(rows.map((f) => f.line)).toEqual([7000, 14000, 21000, 28000]);
  });

  it("with the work in this thread (DETECTION_THREADS=0), stops with ScanAbortedError soon after the signal is aborted", async () => {
    const ac = new AbortController();
    const text = Array.from({ length: 100_000 }, (_, i) => `regel ${i} jan${i}@example.com 06-12345678`).join("\n");
    let chunksDone = 0;
    let chunksAtAbort = -1;
    const counting: PipelineWorkers = {
      ...IN_THIS_THREAD,
      detectChunk: async (t, signal) => {
        const rows = await IN_THIS_THREAD.detectChunk(t, signal);
        // After the first chunk a cancel arrives as an ordinary event (a timer), as a broadcast would:
        // it can only fire if the in-thread work yields between chunks.
        if (++chunksDone === 1) {
          setTimeout(() => {
            chunksAtAbort = chunksDone;
            ac.abort();
          }, 0);
        }
        return rows;
      },
    };
    await expect(scanThroughPipeline("document", [doc("huge.txt", text)], { workers: counting, signal: ac.signal })).rejects.toBeInstanceOf(ScanAbortedError);
    const total = chunkUtf8(Buffer.from(text), PIPELINE_CHUNK_BYTES).length / 3;
    expect(total).toBeGreaterThan(10);
    expect(chunksAtAbort, "the in-thread work never yielded to let the cancel in").toBeGreaterThan(0);
    expect(chunksAtAbort).toBeLessThan(total);
    // It stops at once: no chunk is detected after the abort.
    expect(chunksDone).toBe(chunksAtAbort);
  });
});

describe("code scans through the pipeline", () => {
  const files = [
    doc("src/config.ts", 'export const config = {\n  apiKey: "sk_live_4eC39HqLyjWDarjtT1zdp7dc",\n  password: "Sup3rS3cret!",\n};\n'),
    doc(".env", "DB_PASSWORD=hunter2x\nAWS_ACCESS_KEY_ID=AKIAQ3EGUPXL5R7ZWN2D\n"),
    doc("keys/id_rsa", "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"),
    doc("node_modules/lib/index.js", 'const password = "Sup3rS3cret!";'),
    doc("vendor/x.php", '$password = "Sup3rS3cret!";'),
    doc("public/app.min.js", 'var password="Sup3rS3cret!";'),
    doc("dist/bundle.js", 'var password="Sup3rS3cret!";'),
    doc("assets/generated.js", `var a="${"x".repeat(6000)}";var password="Sup3rS3cret!";`),
    doc("img/logo.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])),
    doc("data/latin1.txt", new Uint8Array([0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x3d, 0xe9, 0xe9, 0xe9, 0x31])),
  ];

  it("finds secrets and PII with path and line; vendored, minified and binary files are left out without being listed", async () => {
    const { rows, skipped, scanned, progress } = await scanThroughPipeline("code", files);
    expect(summary(rows)).toEqual(["src/config.ts:2:API_KEY", "src/config.ts:3:PASSWORD", ".env:1:PASSWORD", ".env:2:AWS_ACCESS_KEY", "keys/id_rsa:1:PRIVATE_KEY"]);
    expect(skipped).toEqual([]);
    expect(scanned).toBe(3);
    expect(progress.at(-1)).toMatchObject({ itemsProcessed: files.length, itemsTotal: files.length });
  });

  it("says why each left-out file was not scanned", async () => {
    const reasons: Array<[string, string | null]> = [];
    for (const f of files) {
      const res = await extractInput({ name: f.name, content: Uint8Array.from(f.content), mode: "code", maxTextBytes: 1 << 20, chunkBytes: PIPELINE_CHUNK_BYTES });
      reasons.push([f.name, res.ok ? null : "skip" in res ? res.skip.code : "unopened"]);
    }
    expect(reasons).toEqual([
      ["src/config.ts", null],
      [".env", null],
      ["keys/id_rsa", null],
      ["node_modules/lib/index.js", "VENDORED"],
      ["vendor/x.php", "VENDORED"],
      ["public/app.min.js", "MINIFIED"],
      ["dist/bundle.js", "VENDORED"],
      ["assets/generated.js", "MINIFIED"],
      ["img/logo.png", "BINARY"],
      ["data/latin1.txt", "BINARY"],
    ]);
  });

  it.each([
    ["node_modules/a/b.js", "vendored"],
    ["packages/x/node_modules/y.js", "vendored"],
    ["third_party/z.c", "vendored"],
    ["web/jquery.min.js", "minified"],
    ["src/vendor.ts", null],
    ["src/distance.ts", null],
  ])("skipReasonForPath(%s) → %s", (p, r) => expect(skipReasonForPath(p)).toBe(r));

  it("checks the signal between files", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(scanThroughPipeline("code", [doc("a.ts", "x")], { signal: ac.signal })).rejects.toBeInstanceOf(ScanAbortedError);
  });
});

describe("detection pool (piscina)", () => {
  const pool = createDetectionPool({ threads: 2 });
  const threads: PipelineWorkers = { extract: pool.extract, detectChunk: pool.detectChunk, parallelism: 2 };
  afterAll(() => pool.close());

  it("resolves the .ts worker with a TypeScript loader when running from source", () => {
    const spec = workerSpec();
    expect(spec.filename.endsWith("detection.worker.ts")).toBe(true);
    expect(spec.execArgv.join(" ")).toMatch(/tsx|swc-node|ts-node/);
    const prod = workerSpec("file:///app/dist/src/modules/scans/scanners/detection-pool.js");
    expect(prod.filename).toBe("/app/dist/src/modules/scans/scanners/detection.worker.js");
  });

  it("gives the same detections as the in-thread engine, off the event loop", async () => {
    const text = "BSN 123456782\nmail jan@example.com en jan@example.com\nkey AKIAQ3EGUPXL5R7ZWN2D";
    const inThread = detect(text, { hashKey: "k" });
    expect(await pool.detect(text, { hashKey: "k" })).toEqual(inThread);
    const { rows } = await scanThroughPipeline("document", [doc("a.txt", text)], { workers: threads });
    expect(rows.map((f) => [f.type, f.line, f.occurrences])).toEqual(inThread.map((d) => [d.type, d.line, d.occurrences]));
  });

  it("the pipeline through the pool keeps global line numbers across chunks in flight together", async () => {
    const text = Array.from({ length: 40_000 }, (_, i) => (i === 35_000 ? "BSN 123456782" : "tekst zonder iets")).join("\n");
    const { rows } = await scanThroughPipeline("document", [doc("a.txt", text)], { workers: { ...threads, parallelism: 4 } });
    expect(rows.map((d) => [d.type, d.line])).toEqual([["BSN", 35_001]]);
  });

  it("close() is idempotent: every caller shares one shutdown", async () => {
    const p = createDetectionPool({ threads: 1 });
    expect(await p.detect("BSN 123456782", { hashKey: "k" })).toHaveLength(1); // a thread was started
    const first = p.close();
    expect(p.close()).toBe(first); // memoised, not a second destroy
    await expect(Promise.all([first, p.close()])).resolves.toEqual([undefined, undefined]);
    await expect(p.close()).resolves.toBeUndefined();
  });
});
