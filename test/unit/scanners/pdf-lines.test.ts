/**
 * PDF text comes out one line per text line, across pages, so line numbers and detection work
 * on dense PDFs (bench/dense-documents.bench.ts once found 357 values in a 9,000-line PDF: its
 * generator put every line on one page, and pdf.js extracts only text placed on the page).
 */
import { describe, expect, it } from "vitest";
import { extractText } from "../../../src/modules/scans/scanners/text-extract.js";
import { makePdf } from "./fixtures.js";
import { scanThroughPipeline } from "./pipeline-run.js";

const LINES = 600; // 11 pages at the fixture's 55 lines per page
const lines = Array.from({ length: LINES }, (_, i) => `klant ${i} k${i}.de.vries@voorbeeld.nl`);

describe("PDF text, line by line", () => {
  it("extracts every text line of a multi-page PDF as its own line, in order", async () => {
    const pdf = makePdf(lines);
    const { kind, text } = await extractText("dense.pdf", pdf);
    expect(kind).toBe("pdf");
    expect(text.split("\n")).toEqual(lines);
  });

  it("a dense PDF gives one finding per line, at that line", async () => {
    const { rows } = await scanThroughPipeline("document", [{ name: "dense.pdf", content: makePdf(lines, { fontSize: 6, leading: 7 }) }]);
    const emails = rows.filter((f) => f.type === "EMAIL");
    expect(emails).toHaveLength(LINES);
    expect(emails.map((f) => f.line)).toEqual(lines.map((_, i) => i + 1));
    expect(new Set(emails.map((f) => f.source))).toEqual(new Set(["dense.pdf"]));
  });
});
