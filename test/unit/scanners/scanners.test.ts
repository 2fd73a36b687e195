import { afterAll, describe, expect, it } from "vitest";
import { scanCode, scanCodeDetailed, skipReasonForPath } from "../../../src/modules/scans/scanners/code.scanner.js";
import { createDetectionPool, workerSpec } from "../../../src/modules/scans/scanners/detection-pool.js";
import { chunkByLines, detectChunked, scanDocuments } from "../../../src/modules/scans/scanners/document.scanner.js";
import { ScanAbortedError, ScanInputError, type NamedContent, type ScanContext, type ScanProgressUpdate } from "../../../src/modules/scans/scanners/scanner.types.js";
import { detectKind, htmlToText } from "../../../src/modules/scans/scanners/text-extract.js";
import { detect } from "../../../src/modules/detection/index.js";
import { makeDocx, makePdf } from "./fixtures.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const doc = (name: string, text: string | Uint8Array): NamedContent => ({ name, content: typeof text === "string" ? enc(text) : text });

function ctx(signal: AbortSignal = new AbortController().signal): ScanContext & { progress: ScanProgressUpdate[] } {
  const progress: ScanProgressUpdate[] = [];
  return { signal, hashKey: "k", onProgress: (u) => progress.push(u), progress };
}
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

describe("scanDocuments", () => {
  it("finds values with document name and line in text, CSV, JSON, HTML and Markdown", async () => {
    const c = ctx();
    const found = await scanDocuments(
      [
        doc("brief.txt", "Beste,\n\nMijn BSN is 123456782.\nGroet"),
        doc("klanten.csv", "naam,email,iban\nJan,jan@example.com,NL91ABNA0417164300\n"),
        doc("data.json", '{\n  "phone": "+31 6 12345678"\n}'),
        doc("page.html", "<html>\n<body>\n<p>Creditcard: 4111 1111 1111 1111</p>\n</body></html>"),
        doc("notes.md", "# Notes\n\n- server `203.0.113.42`\n"),
      ],
      c,
    );
    expect(summary(found)).toEqual([
      "brief.txt:3:BSN",
      "klanten.csv:2:EMAIL",
      "klanten.csv:2:IBAN",
      "data.json:2:PHONE_NUMBER",
      "page.html:3:CREDIT_CARD",
      "notes.md:3:IP_ADDRESS",
    ]);
    expect(JSON.stringify(found)).not.toMatch(/123456782|NL91ABNA0417164300|4111 1111 1111 1111/);
    expect(c.progress.at(-1)).toMatchObject({ itemsProcessed: 5, itemsTotal: 5 });
  });

  it("reads PDF and DOCX", async () => {
    const found = await scanDocuments(
      [doc("scan.pdf", makePdf(["Factuur", "IBAN NL91 ABNA 0417 1643 00", "Mail: piet@example.nl"])), doc("brief.docx", makeDocx(["Geachte heer,", "Uw BSN 123456782 is bekend."]))],
      ctx(),
    );
    expect(summary(found)).toEqual(["scan.pdf:2:IBAN", "scan.pdf:3:EMAIL", "brief.docx:2:BSN"]);
  });

  it("refuses an unreadable PDF with ScanInputError", async () => {
    const bad = doc("broken.pdf", enc("%PDF-1.4\nthis is not a pdf"));
    await expect(scanDocuments([bad], ctx())).rejects.toBeInstanceOf(ScanInputError);
    await expect(scanDocuments([bad], ctx())).rejects.toMatchObject({ code: "UNREADABLE_PDF" });
  });

  it("keeps line numbers right across chunks", async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => (i % 7000 === 6999 ? `regel ${i + 1}: mail p${i}@example.com` : `regel ${i + 1} zonder gegevens, wel wat tekst om te vullen`));
    const text = lines.join("\n");
    expect(chunkByLines(text).length).toBeGreaterThan(3);
    const found = await scanDocuments([doc("big.txt", text)], ctx());
    expect(found.map((f) => f.line)).toEqual([7000, 14000, 21000, 28000]);
  });

  it("stops with ScanAbortedError soon after the signal is aborted", async () => {
    const ac = new AbortController();
    const text = Array.from({ length: 100_000 }, (_, i) => `regel ${i} jan${i}@example.com 06-12345678`).join("\n");
    let chunksDone = 0;
    let chunksAtAbort = -1;
    const counting: typeof detect = (t, o) => {
      // After the first chunk a cancel arrives as an ordinary event (a timer), as a broadcast would:
      // it can only fire if the in-thread engine yields between chunks.
      if (++chunksDone === 1) {
        setTimeout(() => {
          chunksAtAbort = chunksDone;
          ac.abort();
        }, 0);
      }
      return detect(t, o);
    };
    await expect(scanDocuments([doc("huge.txt", text)], { ...ctx(ac.signal), detect: counting })).rejects.toBeInstanceOf(ScanAbortedError);
    const total = chunkByLines(text).length;
    expect(total).toBeGreaterThan(10);
    expect(chunksAtAbort, "the engine never yielded to let the cancel in").toBeGreaterThan(0);
    expect(chunksAtAbort).toBeLessThan(total);
    // It stops at once: no chunk is started after the abort.
    expect(chunksDone).toBe(chunksAtAbort);
  });
});

describe("scanCode", () => {
  it("finds secrets and PII with path and line, and skips vendored, minified and binary files", async () => {
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
    const { findings, skipped } = await scanCodeDetailed(files, ctx());
    expect(summary(findings)).toEqual(["src/config.ts:2:API_KEY", "src/config.ts:3:PASSWORD", ".env:1:PASSWORD", ".env:2:AWS_ACCESS_KEY", "keys/id_rsa:1:PRIVATE_KEY"]);
    expect(skipped).toEqual([
      { path: "node_modules/lib/index.js", reason: "vendored" },
      { path: "vendor/x.php", reason: "vendored" },
      { path: "public/app.min.js", reason: "minified" },
      { path: "dist/bundle.js", reason: "vendored" },
      { path: "assets/generated.js", reason: "minified" },
      { path: "img/logo.png", reason: "binary" },
      { path: "data/latin1.txt", reason: "binary" },
    ]);
    expect((await scanCode(files, ctx())).length).toBe(5);
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
    await expect(scanCode([doc("a.ts", "x")], ctx(ac.signal))).rejects.toBeInstanceOf(ScanAbortedError);
  });
});

describe("detection pool (piscina)", () => {
  const pool = createDetectionPool({ threads: 2 });
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
    const viaScanner = await scanDocuments([doc("a.txt", text)], { ...ctx(), detect: pool.detect });
    expect(viaScanner.map((f) => [f.type, f.line, f.occurrences])).toEqual(inThread.map((d) => [d.type, d.line, d.occurrences]));
  });

  it("detectChunked through the pool keeps global line numbers", async () => {
    const text = Array.from({ length: 40_000 }, (_, i) => (i === 35_000 ? "BSN 123456782" : "tekst zonder iets")).join("\n");
    const found = await detectChunked(text, { hashKey: "k", signal: new AbortController().signal, detect: pool.detect, concurrency: 4 });
    expect(found.map((d) => [d.type, d.line])).toEqual([["BSN", 35_001]]);
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
