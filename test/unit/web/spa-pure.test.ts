/**
 * The SPA's pure helpers (issue 14): upload checks in MB and words, error wording without
 * setting names, connection advice, and the progress drawn for a scan.
 */
import { describe, expect, it } from "vitest";
import { connectionAdvice } from "../../../web/src/advice.js";
import { describeError, formatBytes } from "../../../web/src/client.js";
import { shownProgress } from "../../../web/src/ScansPage.js";
import { checkFiles, estimatedBodyBytes, supportedTypesText, type UploadLimitsInfo } from "../../../web/src/upload.js";

const MB = 1024 * 1024;
const limits: UploadLimitsInfo = {
  maxDocumentBytes: 10 * MB,
  maxScanBytes: 12 * MB,
  maxDocumentsPerScan: 1000,
  maxRequestBytes: 16 * MB,
  documentExtensions: ["txt", "csv", "tsv", "json", "md", "markdown", "html", "htm", "xml", "log", "yaml", "yml", "pdf", "docx"],
};
const file = (name: string, size: number, type = "") => ({ name, size, type });
/** No sentence a person reads names a setting: FOO_BAR in capitals. */
const SETTING = /\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/;

describe("formatBytes", () => {
  it.each([
    [0, "0 bytes"],
    [512, "512 bytes"],
    [2048, "2 KB"],
    [MB, "1 MB"],
    [1.5 * MB, "1.5 MB"],
    [10 * MB, "10 MB"],
    [16777216, "16 MB"],
    [12.4 * MB, "12 MB"],
    [10 * MB - 100, "10 MB"],
    [1.04 * MB, "1 MB"],
  ])("%d -> %s", (n, text) => expect(formatBytes(n)).toBe(text));
});

describe("checkFiles", () => {
  it.each([
    ["a program", [file("setup.exe", 1000, "application/x-msdownload")], /"setup\.exe" is a program/],
    ["an image", [file("photo.png", 1000, "image/png")], /"photo\.png" is not a type DataGuardian reads/],
    ["an empty file", [file("empty.txt", 0, "text/plain")], /"empty\.txt" is empty \(0 bytes\)/],
    ["a file over the per-file limit", [file("big.pdf", 11 * MB, "application/pdf")], /"big\.pdf" is 11 MB; each file may be at most 10 MB/],
  ])("leaves out %s with a sentence", (_what, files, sentence) => {
    const r = checkFiles(files, limits, "DOCUMENT");
    expect(r.accepted).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(sentence);
    expect(r.problems[0]).not.toMatch(SETTING);
  });

  it("keeps the good files beside a refused one", () => {
    const r = checkFiles([file("a.txt", 10, "text/plain"), file("setup.exe", 10), file("b.docx", 10)], limits, "DOCUMENT");
    expect(r.accepted.map((f) => f.name)).toEqual(["a.txt", "b.docx"]);
  });

  it("five 2 MB files fit; seven do not fit one scan (12 MB)", () => {
    const five = Array.from({ length: 5 }, (_, i) => file(`big${i}.txt`, 2 * MB, "text/plain"));
    expect(checkFiles(five, limits, "DOCUMENT")).toEqual({ accepted: five, problems: [] });
    const seven = Array.from({ length: 7 }, (_, i) => file(`big${i}.txt`, 2 * MB, "text/plain"));
    const r = checkFiles(seven, limits, "DOCUMENT");
    expect(r.accepted).toEqual([]);
    expect(r.problems[0]).toBe("These 7 files are 14 MB together; one scan may hold at most 12 MB. Scan them in parts.");
  });

  it("counts base64's third for PDFs against the request limit", () => {
    const small = { ...limits, maxScanBytes: 20 * MB, maxRequestBytes: 12 * MB };
    const pdfs = [file("a.pdf", 5 * MB), file("b.pdf", 5 * MB)];
    expect(estimatedBodyBytes(pdfs)).toBeGreaterThan(13 * MB);
    const r = checkFiles(pdfs, small, "DOCUMENT");
    expect(r.accepted).toEqual([]);
    expect(r.problems[0]).toMatch(/about 13 MB .*at most 12 MB/);
    // The same bytes as text fit.
    expect(checkFiles([file("a.txt", 5 * MB), file("b.txt", 5 * MB)], small, "DOCUMENT").accepted).toHaveLength(2);
  });

  it("code scans take source files", () => {
    expect(checkFiles([file("app.ts", 10), file("config.yaml", 10), file("x.exe", 10)], limits, "CODE").accepted.map((f) => f.name)).toEqual(["app.ts", "config.yaml"]);
  });

  it("says which types are read", () => {
    expect(supportedTypesText(limits, "DOCUMENT")).toBe("PDF, DOCX and text files (TXT, CSV, TSV, JSON, MD, HTML, XML, LOG, YAML).");
  });
});

describe("describeError", () => {
  const bad = (message: string, extensions: Record<string, unknown>) => ({ graphQLErrors: [{ message, extensions: { code: "BAD_USER_INPUT", ...extensions } }], message });
  it.each([
    [bad("documents[1] is larger than 10485760 bytes (MAX_DOCUMENT_BYTES)", { field: "documents[1]", limit: "MAX_DOCUMENT_BYTES" }), `"b.pdf" is too large: each file may be at most 10 MB.`],
    [bad("The scan's documents exceed 12582912 bytes in all (MAX_SCAN_BYTES)", { field: "documents", limit: "MAX_SCAN_BYTES" }), "These files are too large together: one scan may hold at most 12 MB. Scan fewer files at a time."],
    [bad("At most 1000 documents per scan (MAX_DOCUMENTS_PER_SCAN)", { field: "documents", limit: "MAX_DOCUMENTS_PER_SCAN" }), "Too many files: one scan may hold at most 1000 files."],
    [{ graphQLErrors: [], networkError: Object.assign(new Error("Request body larger than 16777216 bytes (MAX_BODY_SIZE)"), { status: 413 }), message: "" }, "The upload is too large: one request may carry at most 16 MB (binary files grow by a third on the way). Scan fewer files at a time."],
    [{ graphQLErrors: [{ message: "Something (SOME_SETTING) failed", extensions: { code: "NOT_FOUND" } }], message: "" }, "Something failed"],
  ])("%#: in MB and words", (error, text) => {
    const out = describeError(error, limits, ["a.txt", "b.pdf"]);
    expect(out).toBe(text);
    expect(out).not.toMatch(SETTING);
  });
});

describe("connectionAdvice", () => {
  const conn = { host: "127.0.0.1", port: 5999, database: "crm", user: "app" };
  it.each([
    ["AUTHENTICATION_FAILED", "authentication failed: password authentication failed", /refused the password for "app": edit the connection/],
    // One general advice whatever the message: the server sends one fixed message for every pre-auth failure.
    ["CONNECTION_FAILED", "Could not connect to the database server", /^Could not connect to 127\.0\.0\.1:5999: is the database running\? Check the host, the port and the SSL setting, and that a firewall/],
    ["CONNECTION_FAILED", "cannot connect to 127.0.0.1:5999: timed out", /^Could not connect to 127\.0\.0\.1:5999: is the database running\? Check the host, the port and the SSL/],
    ["CONNECTION_FAILED", null, /^Could not connect to 127\.0\.0\.1:5999: is the database running\?/],
    ["RATE_LIMITED", "Too many connection tests: try again in 42 s", /^Too many connection tests in a short time: try again in 42 s\.$/],
    ["DATABASE_NOT_FOUND", 'database "crm" does not exist', /no database "crm" on 127\.0\.0\.1:5999: edit the connection/],
    ["PERMISSION_DENIED", "permission denied for table customers", /"app" may not read "crm": grant it SELECT/],
    ["HOST_NOT_ALLOWED", "host not allowed (DATABASE_SCAN_ALLOWED_HOSTS)", /not allowed to connect to 127\.0\.0\.1\. Ask your administrator/],
  ])("%s", (code, message, advice) => {
    const out = connectionAdvice(code, message, conn);
    expect(out).toMatch(advice);
    expect(out).not.toMatch(SETTING);
  });
});

describe("shownProgress", () => {
  const row = (over: Partial<Parameters<typeof shownProgress>[0]>) => ({ status: "RUNNING", progress: 0, stage: null, itemsProcessed: 0, itemsTotal: 1, ...over });
  it.each([
    ["one large file, 28 of 31 chunks", row({ stage: "scanning big2.txt (28/31)" }), 28 / 31],
    ["second of five files, half its chunks", row({ progress: 0.2, itemsProcessed: 1, itemsTotal: 5, stage: "scanning b.txt (5/10)" }), 0.3],
    ["never behind the server", row({ progress: 0.5, itemsProcessed: 2, itemsTotal: 5, stage: "scanning c.txt (0/10)" }), 0.5],
    ["never 100% while running", row({ progress: 1, stage: "storing findings" }), 0.99],
    ["100% once succeeded", row({ status: "SUCCEEDED", progress: 0.99 }), 1],
    ["no chunk count: the server's figure", row({ progress: 0.42, stage: "sampling public.customers" }), 0.42],
  ])("%s", (_what, r, expected) => expect(shownProgress(r as never)).toBeCloseTo(expected, 5));
});
